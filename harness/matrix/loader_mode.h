// The ways a checkpoint gets loaded. Ids are fixed: they key records across runs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

enum class LoaderMode {
  default_load, // torch.load(f): whatever this version's default is
  weights_only, // torch.load(f, weights_only=True)
  unsafe,       // torch.load(f, weights_only=False): runs the pickle's code
  mmap,         // torch.load(f, mmap=True)
  forced,       // TORCH_FORCE_WEIGHTS_ONLY_LOAD=1 with torch.load(f, weights_only=False)
  allowlist,    // weights_only=True plus the smallest add_safe_globals set that works
  cpp_pickle,   // torch::pickle_load in the C++ probe
  cpp_jit,      // torch::jit::load in the C++ probe (TorchScript archives)
  // Not a way to load a file: a scenario's record, whose loading code is the scenario's own.
  // Outside loader_modes(): no file is ever loaded "as a scenario".
  scenario,
};

// What the Python worker does for a mode: the worker knows no mode ids, only this (sent with
// each load request), so the ids live here alone.
struct TorchLoadCall {
  std::optional<bool> weights_only; // torch.load's weights_only= argument; none: not passed
  bool mmap = false;                // mmap=True
  const char* force_env = nullptr;  // an environment variable set to "1" before the load
  const char* needs = nullptr;      // a torch.serialization function the mode cannot do without
};

struct LoaderModeInfo {
  LoaderMode mode;
  const char* id;
  const char* description;
  bool cpp;           // run by the C++ probe, not the Python worker
  TorchLoadCall call; // for the Python modes
};

const std::vector<LoaderModeInfo>& loader_modes();
const LoaderModeInfo& loader_mode_info(LoaderMode mode);
const char* loader_mode_id(LoaderMode mode);
// A loader mode by id (what --modes accepts); never `scenario`.
std::optional<LoaderMode> parse_loader_mode(std::string_view id);
// A record's mode by id: a loader mode's, or "scenario".
std::optional<LoaderMode> parse_record_mode(std::string_view id);
// "default, weights_only, ..." for error messages and --help.
std::string loader_mode_ids();

} // namespace loadmatrix
