// The closed set of outcomes every cell ends with (LLVM lit's result codes are the model).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace loadmatrix {

enum class Outcome { pass, blocked, error, crash, timeout, unsupported, mismatch, skipped };

struct OutcomeInfo {
  Outcome outcome;
  const char* id;
  const char* definition;
  bool is_failure;
};

// In declaration order; every Outcome has exactly one entry.
const std::vector<OutcomeInfo>& outcomes();
const OutcomeInfo& outcome_info(Outcome outcome);
const char* outcome_id(Outcome outcome);
std::optional<Outcome> parse_outcome(std::string_view id);

} // namespace loadmatrix
