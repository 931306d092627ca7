#include "matrix/loader_mode.h"

namespace loadmatrix {

const std::vector<LoaderModeInfo>& loader_modes() {
  static const std::vector<LoaderModeInfo> modes = {
      {LoaderMode::default_load,
       "default",
       "torch.load(f) with this version's default",
       false,
       {std::nullopt, false, nullptr, nullptr}},
      {LoaderMode::weights_only,
       "weights_only",
       "torch.load(f, weights_only=True)",
       false,
       {true, false, nullptr, nullptr}},
      {LoaderMode::unsafe,
       "unsafe",
       "torch.load(f, weights_only=False); runs pickled code",
       false,
       {false, false, nullptr, nullptr}},
      {LoaderMode::mmap,
       "mmap",
       "torch.load(f, mmap=True)",
       false,
       {std::nullopt, true, nullptr, nullptr}},
      {LoaderMode::forced,
       "forced",
       "TORCH_FORCE_WEIGHTS_ONLY_LOAD=1 and torch.load(f, weights_only=False)",
       false,
       {false, false, "TORCH_FORCE_WEIGHTS_ONLY_LOAD", nullptr}},
      {LoaderMode::allowlist,
       "allowlist",
       "weights_only=True with the smallest add_safe_globals allowlist that loads it",
       false,
       {true, false, nullptr, "add_safe_globals"}},
      {LoaderMode::cpp_pickle,
       "cpp_pickle",
       "torch::pickle_load in C++ (libtorch)",
       true,
       {std::nullopt, false, nullptr, nullptr}},
      {LoaderMode::cpp_jit,
       "cpp_jit",
       "torch::jit::load in C++, for TorchScript archives",
       true,
       {std::nullopt, false, nullptr, nullptr}},
  };
  return modes;
}

const LoaderModeInfo& loader_mode_info(LoaderMode mode) {
  for (const auto& info : loader_modes()) {
    if (info.mode == mode) {
      return info;
    }
  }
  return loader_modes().front();
}

const char* loader_mode_id(LoaderMode mode) {
  return mode == LoaderMode::scenario ? "scenario" : loader_mode_info(mode).id;
}

std::optional<LoaderMode> parse_record_mode(std::string_view id) {
  return id == "scenario" ? std::optional(LoaderMode::scenario) : parse_loader_mode(id);
}

std::optional<LoaderMode> parse_loader_mode(std::string_view id) {
  for (const auto& info : loader_modes()) {
    if (id == info.id) {
      return info.mode;
    }
  }
  return std::nullopt;
}

std::string loader_mode_ids() {
  std::string ids;
  for (const auto& info : loader_modes()) {
    ids += (ids.empty() ? "" : ", ") + std::string(info.id);
  }
  return ids;
}

} // namespace loadmatrix
