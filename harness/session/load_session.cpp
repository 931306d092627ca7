#include "session/load_session.h"

namespace loadmatrix {

namespace {

WorkerOptions worker_options(const SandboxLayout& layout, const SessionOptions& options) {
  WorkerOptions worker;
  worker.mounts = layout.mounts();
  worker.python_path = layout.python_path();
  worker.log_file = options.log_file;
  worker.request_memory_bytes = options.request_memory_bytes;
  return worker;
}

} // namespace

LoadSession::LoadSession(const Environment& env, SandboxLayout layout,
                         const SessionOptions& options)
    : env_(env), layout_(std::move(layout)), options_(options),
      worker_(env, worker_options(layout_, options)) {}

const AllowlistSearch& LoadSession::search(const std::string& file) {
  auto it = searches_.find(file);
  if (it == searches_.end()) {
    auto attempt = [&](const std::vector<std::string>& allow) {
      return load(file, LoaderMode::weights_only, allow);
    };
    it = searches_.emplace(file, search_allowlist(attempt)).first;
  }
  return it->second;
}

} // namespace loadmatrix
