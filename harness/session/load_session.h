// One env's loads for a job (run, scan): its worker in its sandbox with the job's mounts, and
// each file's allowlist search, made once and shared by every mode and fix that asks about that
// file (a search is several loads: torch names one refused global per attempt).
#pragma once

#include "probes/worker.h"
#include "records/allowlist_search.h"
#include "session/sandbox_layout.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace loadmatrix {

struct SessionOptions {
  std::filesystem::path log_file;    // the worker's stderr, appended
  uint64_t request_memory_bytes = 0; // RLIMIT_AS of each load's process; 0: none
  std::chrono::seconds timeout{60};  // each load's
};

class LoadSession {
public:
  // `layout` must have been made for `env`'s sandbox; the session keeps a copy of it and `env`
  // by reference: the env must outlive the session (the layout points into its sandbox).
  LoadSession(const Environment& env, SandboxLayout layout, const SessionOptions& options);

  // A request to the worker (probes/worker.h: the reply, or a synthesised crash or timeout).
  Json call(Json request) { return worker_.call(std::move(request), options_.timeout); }
  // torch.load of `file` (an inside path) as `mode` does it, with `allow` allowlisted first.
  Json load(const std::string& file, LoaderMode mode, const std::vector<std::string>& allow = {}) {
    return worker_.load(file, mode, allow, options_.timeout);
  }
  // Starts the worker now (each load would): an error only when it cannot start at all, which
  // every load would then report alike.
  Expected<void> start() { return worker_.ensure_started(); }
  // The weights-only allowlist search for `file` (an inside path), once per file.
  const AllowlistSearch& search(const std::string& file);

  const Environment& env() const { return env_; }
  const SandboxLayout& layout() const { return layout_; }

private:
  const Environment& env_;
  SandboxLayout layout_;
  SessionOptions options_;
  Worker worker_;
  std::map<std::string, AllowlistSearch> searches_;
};

} // namespace loadmatrix
