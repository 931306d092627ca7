// What each torch loader call does in an env, by how its arguments are written: measured by
// fingerprint.py (_loader_forms), which calls every loader on a checkpoint only the full
// unpickler accepts, under no variable and under each TORCH_FORCE_* variable. Never a table of
// versions: torch 2.6 made weights_only the default (PR #137602), its hub wrapper kept
// weights_only=False, passing pickle_module keeps the full unpickler, and 1.x has no
// weights_only or mmap at all; each of those is read from the env itself.
#pragma once

#include "util/error.h"
#include "util/json_file.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace loadmatrix {

enum class LoadEffect : uint8_t {
  weights_only, // the restricted unpickler: refuses what is not allowlisted
  full,         // the full unpickler: runs whatever the pickle calls
  error,        // the call raises before loading (a TypeError: an argument this torch lacks)
};
const char* load_effect_name(LoadEffect effect); // "weights_only", "full", "error"

struct MeasuredEffect {
  LoadEffect effect = LoadEffect::error;
  std::string error; // effect == error: "TypeError: load() got an unexpected keyword ..."
};

// The variables the fingerprint measures, each set to 1.
inline constexpr const char* kForceWeightsOnly = "TORCH_FORCE_WEIGHTS_ONLY_LOAD";
inline constexpr const char* kForceNoWeightsOnly = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD";

// A form key: weights_only as written ("omitted", "true", "false", "none"), then
// "+pickle_module" and "+mmap" when those are passed: "omitted+pickle_module+mmap".
std::string loader_form(std::string_view weights_only, bool pickle_module, bool mmap);

struct LoaderFacts {
  // variable ("" or "TORCH_FORCE_WEIGHTS_ONLY_LOAD=1") -> loader ("torch.load") -> form -> effect
  std::map<std::string, std::map<std::string, std::map<std::string, MeasuredEffect>>, std::less<>>
      by_variable;

  // nullptr when that was not measured (a loader this torch does not ship has no forms).
  const MeasuredEffect* find(std::string_view variable, std::string_view loader,
                             std::string_view form) const;
  bool has_loader(std::string_view loader) const;
  // From the fingerprint's "loader_calls"; an error names the field.
  static Expected<LoaderFacts> from_json(const Json& facts);
};

} // namespace loadmatrix
