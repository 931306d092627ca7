// Files loadmatrix ships beside its binary: the Python that runs inside envs (cases/), the
// C++ probe's sources, and the sandbox's PID 1. LOADMATRIX_HOME overrides the source tree.
#pragma once

#include <filesystem>

namespace loadmatrix {

struct Resources {
  std::filesystem::path home;        // the source tree (cases/, harness/probes/, matrix/)
  std::filesystem::path cases_dir;   // Python run inside envs
  std::filesystem::path runtime_dir; // cases/runtime: fingerprint and worker
  std::filesystem::path cpp_probe_dir;
  std::filesystem::path sandbox_init; // the loadmatrix-sandbox executable
};

const Resources& resources();

} // namespace loadmatrix
