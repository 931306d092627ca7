#include "probes/worker.h"

#include "runtime/protocol.h"
#include "util/text.h"
#include "util/utf8.h"

#include <fmt/core.h>

namespace loadmatrix {

namespace {
// Beyond the cell's own timeout (enforced inside the worker), what the driver allows for the
// fork and the reply before it decides the worker itself is stuck.
constexpr std::chrono::seconds kSlack(30);
} // namespace

Json protocol_path(const std::filesystem::path& path) {
  const std::string& bytes = path.native();
  if (is_valid_utf8(bytes)) {
    return bytes;
  }
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex += fmt::format("{:02x}", c);
  }
  return Json{{"hex", hex}};
}

Worker::Worker(const Environment& env, WorkerOptions options)
    : env_(env), options_(std::move(options)) {}

Worker::~Worker() {
  if (process_) {
    process_->send(R"({"op": "exit"})");
    process_->stop(std::chrono::seconds(2));
    SystemProcessRunner runner;
    env_.sandbox.release(runner, wrapped_);
  }
}

Expected<void> Worker::ensure_started() {
  if (process_) {
    return {};
  }
  auto status = SandboxStatus::create();
  if (!status) {
    return status.error();
  }
  SandboxMount runtime = env_.sandbox.place(env_.shipped.runtime_dir, "runtime", false);
  SandboxCommand command;
  command.argv = {env_.python, (runtime.inside / "worker.py").string()};
  command.mounts = options_.mounts;
  command.mounts.push_back(runtime);
  command.env = {"PYTHONPATH=" + join(options_.python_path, ":"), "PYTHONUNBUFFERED=1"};
  auto wrapped = env_.sandbox.wrap(command, *status);
  if (!wrapped) {
    return Error{fmt::format("env {}: cannot start the worker: {}", env_.spec.name,
                             wrapped.error().message)};
  }
  auto started = LineProcess::start(wrapped->argv, options_.log_file);
  if (!started) {
    return Error{fmt::format("env {}: cannot start the worker: {}", env_.spec.name,
                             started.error().message)};
  }
  ++starts_;
  auto ready =
      (*started)->read_line(is_protocol_line, LineProcess::Clock::now() + options_.start_timeout);
  if (ready.status != LineProcess::ReadStatus::line) {
    ProcessResult result = (*started)->stop(std::chrono::seconds(1));
    SystemProcessRunner runner;
    env_.sandbox.release(runner, *wrapped);
    status->apply(result);
    auto log = read_text_file(options_.log_file);
    return Error{fmt::format("env {}: the worker did not start ({}); its log {} ends:\n  {}",
                             env_.spec.name, result.describe(), options_.log_file.string(),
                             log ? last_lines(*log, 8) : std::string("(unreadable)"))};
  }
  process_ = std::move(started).value();
  status_ = std::make_unique<SandboxStatus>(std::move(status).value());
  wrapped_ = std::move(wrapped).value();
  return {};
}

Json Worker::fail_and_restart(const std::string& status, const std::string& detail) {
  ProcessResult result = process_->stop(std::chrono::milliseconds(500));
  // A container outlives its killed client; it must not go on eating the next cell's CPU.
  SystemProcessRunner runner;
  env_.sandbox.release(runner, wrapped_);
  status_->apply(result);
  process_.reset();
  status_.reset();
  Json facts = {{"status", status}, {"detail", detail + " (worker " + result.describe() + ")"}};
  if (result.termination == Termination::signaled) {
    facts["signal"] = result.signal;
  }
  return facts;
}

Json Worker::load(const std::filesystem::path& file, LoaderMode mode,
                  const std::vector<std::string>& allow, std::chrono::milliseconds timeout) {
  const TorchLoadCall& torch_call = loader_mode_info(mode).call;
  Json kwargs = Json::object();
  if (torch_call.weights_only) {
    kwargs["weights_only"] = *torch_call.weights_only;
  }
  if (torch_call.mmap) {
    kwargs["mmap"] = true;
  }
  Json how = {{"kwargs", kwargs}, {"env", Json::array()}, {"needs", Json::array()}};
  if (torch_call.force_env) {
    how["env"].push_back(torch_call.force_env);
  }
  if (torch_call.needs) {
    how["needs"].push_back(torch_call.needs);
  }
  Json request = {{"op", "load"}, {"file", protocol_path(file)}, {"call", how}};
  if (!allow.empty()) {
    request["allow"] = allow;
    request["allow_via"] = env_.fingerprint().has_add_safe_globals ? "public" : "internal";
  }
  return call(std::move(request), timeout);
}

Json Worker::call(Json request, std::chrono::milliseconds timeout) {
  if (auto started = ensure_started(); !started) {
    return {{"status", "protocol_error"}, {"message", started.error().message}};
  }
  long long id = next_id_++;
  request["id"] = id;
  request["timeout_s"] = std::chrono::duration<double>(timeout).count();
  if (options_.request_memory_bytes > 0) {
    request["memory_limit_bytes"] = options_.request_memory_bytes;
  }
  if (!process_->send(dump_json(request))) {
    return fail_and_restart("crashed", "the worker stopped reading requests");
  }
  auto deadline = LineProcess::Clock::now() + timeout + kSlack;
  for (;;) {
    auto read = process_->read_line(is_protocol_line, deadline);
    if (read.status == LineProcess::ReadStatus::timeout) {
      return fail_and_restart("timeout", "the worker did not answer in time");
    }
    if (read.status != LineProcess::ReadStatus::line) {
      return fail_and_restart("crashed", read.status == LineProcess::ReadStatus::eof
                                             ? "the worker exited"
                                             : "the worker wrote an oversized line");
    }
    auto reply =
        parse_protocol_line(read.line, fmt::format("env {}: worker reply", env_.spec.name));
    if (!reply || !reply->is_object()) {
      // Garbage on the protocol channel: the worker can no longer be trusted.
      return fail_and_restart("protocol_error", "the worker wrote a malformed reply");
    }
    if (reply->value("id", Json()) == Json(id)) {
      return *reply;
    }
  }
}

} // namespace loadmatrix
