// The driver's side of runtime/worker.py: one long-lived Python worker per env, in the
// env's sandbox, answering line-protocol requests. A worker that dies or stops answering is
// reported as that request's result and replaced, so the next cell gets a fresh one.
#pragma once

#include "envs/environment.h"
#include "matrix/loader_mode.h"
#include "util/line_process.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace loadmatrix {

struct WorkerOptions {
  std::vector<SandboxMount> mounts;
  std::vector<std::string> python_path; // inside paths, for PYTHONPATH
  std::filesystem::path log_file;       // the worker's stderr, appended
  std::chrono::milliseconds start_timeout{std::chrono::minutes(2)};
  // The address-space limit of each request's process (RLIMIT_AS); 0: none. A load that
  // needs more raises MemoryError in its own process instead of taking the machine down.
  uint64_t request_memory_bytes = 0;
};

// A path as a request field: a string when it is valid UTF-8, else {"hex": its bytes}, since a
// JSON string cannot carry a file name such as "bad\xffname.py" and the worker must open that
// exact file (_loadmatrix_runtime.path_argument decodes it).
Json protocol_path(const std::filesystem::path& path);

class Worker {
public:
  Worker(const Environment& env, WorkerOptions options);
  ~Worker();

  // Sends `request` (an "op" and its fields; "id" is added) and returns the reply. When the
  // worker fails instead, the reply is synthesised: {"status": "crashed"|"timeout", ...}.
  // `timeout` is the cell's own budget; the worker enforces it on the cell's process, and the
  // driver gives up on the worker itself a little after.
  Json call(Json request, std::chrono::milliseconds timeout);

  // torch.load of `file` (a path inside the sandbox) as loader mode `mode` does it (a Python
  // mode), with `allow` allowlisted first: through add_safe_globals where this torch has it,
  // else through its private allowlist, which lists every blocked global but is never offered
  // as a fix. Returns the worker's facts (see call).
  Json load(const std::filesystem::path& file, LoaderMode mode,
            const std::vector<std::string>& allow, std::chrono::milliseconds timeout);

  // An error only when the worker cannot start at all (the env is unusable).
  Expected<void> ensure_started();
  int starts() const { return starts_; }
  const Environment& env() const { return env_; }

private:
  Json fail_and_restart(const std::string& status, const std::string& detail);

  Environment env_;
  WorkerOptions options_;
  std::unique_ptr<LineProcess> process_;
  std::unique_ptr<SandboxStatus> status_;
  WrappedCommand wrapped_; // what process_ runs: its container, if any, is released with it
  long long next_id_ = 1;
  int starts_ = 0;
};

} // namespace loadmatrix
