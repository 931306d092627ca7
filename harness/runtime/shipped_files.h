// What loadmatrix ships into envs, as host paths. The CLI locates them once (cli/resources.h:
// under the source tree or $LOADMATRIX_HOME; the sandbox's PID 1 beside the running binary
// first) and hands them down in each job's request; no stage below the jobs looks for files of
// its own.
#pragma once

#include <filesystem>

namespace loadmatrix {

struct ShippedFiles {
  std::filesystem::path runtime_dir;   // harness/runtime: the Python run inside envs
  std::filesystem::path cpp_probe_dir; // harness/probes/cpp_probe: the C++ probe's sources
  // harness/util: the one UTF-8 decoder (utf8.h), which the C++ probe shares with the harness
  std::filesystem::path cpp_probe_util_dir;
  std::filesystem::path sandbox_init; // the loadmatrix-sandbox executable: the sandbox's PID 1
};

} // namespace loadmatrix
