#include "cli/resources.h"

#include <cstdlib>
#include <unistd.h>

#ifndef LOADMATRIX_SOURCE_DIR
#error "LOADMATRIX_SOURCE_DIR must be defined by the build"
#endif
#ifndef LOADMATRIX_BINARY_DIR
#error "LOADMATRIX_BINARY_DIR must be defined by the build"
#endif

namespace loadmatrix {

namespace {

std::filesystem::path executable_dir() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : self.parent_path();
}

Resources locate() {
  Resources r;
  const char* home = std::getenv("LOADMATRIX_HOME");
  // An installed loadmatrix (the wheel: bin/loadmatrix beside share/loadmatrix) reads its own
  // copy; a build reads the source tree it was built from.
  std::filesystem::path installed = executable_dir().parent_path() / "share" / "loadmatrix";
  std::error_code ec;
  r.home = home != nullptr && *home != '\0' ? std::filesystem::path(home)
           : std::filesystem::is_regular_file(installed / "matrix" / "default.json", ec)
               ? installed
               : std::filesystem::path(LOADMATRIX_SOURCE_DIR);
  r.cases_dir = r.home / "cases";
  r.report_assets = r.home / "reports";
  r.facts = r.home / "matrix" / "facts" / "releases.json";
  ShippedFiles& shipped = r.shipped;
  shipped.runtime_dir = r.home / "harness" / "runtime";
  shipped.cpp_probe_dir = r.home / "harness" / "probes" / "cpp_probe";
  shipped.cpp_probe_util_dir = r.home / "harness" / "util";
  // Beside the running binary first (an installed or copied build), then the build tree.
  shipped.sandbox_init = executable_dir() / "loadmatrix-sandbox";
  if (!std::filesystem::exists(shipped.sandbox_init)) {
    shipped.sandbox_init =
        std::filesystem::path(LOADMATRIX_BINARY_DIR) / "bin" / "loadmatrix-sandbox";
  }
  return r;
}

} // namespace

const Resources& resources() {
  static const Resources located = locate();
  return located;
}

} // namespace loadmatrix
