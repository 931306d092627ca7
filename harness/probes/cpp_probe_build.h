// The C++ loader probe, compiled inside each env against that env's libtorch by that env's
// compiler, and cached under the env cache by (manifest, probe sources).
#pragma once

#include "envs/environment.h"

#include <filesystem>
#include <functional>
#include <string>

namespace loadmatrix {

struct CppProbe {
  std::filesystem::path dir; // host directory holding the cpp_probe binary
  bool built = false;        // false: taken from the cache
  double build_seconds = 0;
};

using ProgressLog = std::function<void(const std::string&)>;

Expected<CppProbe> ensure_cpp_probe(const Environment& env, const EnvCache& cache,
                                    ProcessRunner& runner, const ProgressLog& log);

// Loads `file` with the probe in `mode` ("pickle" or "jit") inside the env's sandbox; the
// report is {"ok":true,"type","value"} or {"ok":false,"error_type","message"}. An error
// means the probe itself did not report (it crashed, hung, or was killed): `result` says how.
struct CppProbeRun {
  ProcessResult result;
  Expected<Json> report;
};
// Loads many files in one probe process (libtorch starts once; each file forks). Returns one
// worker-shaped fact per file, in order: {"status": "returned", "description"}, "raised",
// "crashed" or "timeout".
std::vector<Json> run_cpp_probe_batch(const Environment& env, const CppProbe& probe,
                                      ProcessRunner& runner, const std::string& mode,
                                      const std::filesystem::path& root,
                                      const std::vector<std::filesystem::path>& files,
                                      std::chrono::seconds per_file_timeout);

CppProbeRun run_cpp_probe(const Environment& env, const CppProbe& probe, ProcessRunner& runner,
                          const std::string& mode, const std::filesystem::path& file,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

} // namespace loadmatrix
