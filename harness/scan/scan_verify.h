// The observed side of a scan: each file loaded in each env's sandbox by that env's worker,
// under weights_only=True and the version's default, then with the suggested allowlist to
// prove the fix. A bare load that would run the pickle's code (the full unpickler) happens
// only with `trust`, and then still inside the sandbox.
#pragma once

#include "envs/environment.h"
#include "probes/cpp_probe_build.h"
#include "scan/scan_result.h"
#include "util/progress.h"

#include <chrono>
#include <filesystem>
#include <vector>

namespace loadmatrix {

struct VerifyOptions {
  std::vector<std::filesystem::path> python_path; // host dirs the files' classes import from
  bool trust = false;
  std::chrono::seconds load_timeout{60};
  uint64_t load_memory_bytes = 8ull << 30; // RLIMIT_AS of each load's process; 0: none
  std::filesystem::path log_dir;           // the workers' stderr
  size_t jobs = 0;                         // envs at once; 0: one per core
  ProgressCounter progress;                // each env's files loaded, of those it loads
};

// Fills `observed` and `fix` of every cell of `files` whose env is among `envs`.
void verify_scan(std::vector<ScannedFile>& files, const std::vector<Environment>& envs,
                 const VerifyOptions& options, const ProgressLog& log);

// Whether the sandbox user can read `relative` below `root` (others' read bit on the file,
// search bit on every directory from `root` down): a bind mount keeps the host's permissions.
// Rootless, whether we can: the command's kernel uid is ours.
bool readable_by_sandbox_user(const std::filesystem::path& root,
                              const std::filesystem::path& relative);

} // namespace loadmatrix
