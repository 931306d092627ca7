#include "util/scratch_dir.h"

#include <cerrno>
#include <cstring>
#include <fmt/core.h>
#include <stdlib.h>
#include <string>
#include <utility>

namespace loadmatrix {

Expected<ScratchDir> ScratchDir::create(std::string_view prefix) {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec) {
    base = "/tmp";
  }
  std::string templ = (base / fmt::format("{}.XXXXXX", prefix)).string();
  if (::mkdtemp(templ.data()) == nullptr) {
    return Error{fmt::format("mkdtemp {}: {}", templ, std::strerror(errno))};
  }
  return ScratchDir(std::filesystem::path(templ));
}

ScratchDir::ScratchDir(ScratchDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

ScratchDir::~ScratchDir() {
  if (!path_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
}

} // namespace loadmatrix
