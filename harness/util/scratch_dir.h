// A private directory for one job's intermediate files (mkdtemp: mode 0700, a name nobody can
// predict, so a hostile local user cannot plant or swap anything in it), removed with everything
// in it when the object goes.
#pragma once

#include "util/error.h"

#include <filesystem>
#include <string_view>

namespace loadmatrix {

class ScratchDir {
public:
  // Under $TMPDIR (else /tmp), named "<prefix>.XXXXXX". The error names the call and errno.
  static Expected<ScratchDir> create(std::string_view prefix);
  ScratchDir(ScratchDir&& other) noexcept;
  ScratchDir& operator=(ScratchDir&&) = delete;
  ScratchDir(const ScratchDir&) = delete;
  ~ScratchDir();

  const std::filesystem::path& path() const { return path_; }

private:
  explicit ScratchDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

} // namespace loadmatrix
