// Runs one child process to completion under a wall-clock deadline, with bounded output.
// Every command that touches a checkpoint or an environment goes through a ProcessRunner, so
// tests can substitute a fake one and the real one can be proven against hostile children.
#pragma once

#include "util/spawn.h"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace loadmatrix {

struct ProcessSpec {
  std::vector<std::string> argv; // argv[0] is looked up on PATH when it has no '/'
  // Extra NAME=VALUE entries on top of the driver's own environment.
  std::vector<std::string> env;
  std::optional<std::string> working_dir;
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  // After the deadline the group gets SIGTERM, then SIGKILL once this grace period is over.
  std::chrono::milliseconds kill_grace = kDefaultKillGrace;
  size_t output_limit = 1 << 20; // per stream; the rest is read and dropped
};

enum class Termination {
  exited,       // the process called exit(); `exit_code` holds its status
  signaled,     // a signal ended it; `signal` holds the number
  timed_out,    // the deadline passed and the harness killed the group
  spawn_failed, // the program could not be started; `spawn_error` says why
};

struct ProcessResult {
  Termination termination = Termination::spawn_failed;
  int exit_code = -1;
  int signal = 0;
  std::string stdout_text;
  std::string stderr_text;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  std::string spawn_error;
  std::chrono::milliseconds duration{0};

  bool succeeded() const { return termination == Termination::exited && exit_code == 0; }
  // One line for error messages: "exit status 3", "killed by signal 11 (Segmentation fault)".
  std::string describe() const;
};

class ProcessRunner {
public:
  virtual ~ProcessRunner() = default;
  virtual ProcessResult run(const ProcessSpec& spec) = 0;
};

// Forks via Boost.Process v2 into a process group of its own with stdin from /dev/null, and
// drives its own deadline loop (v1's wait_for hangs: boostorg/process #69, #204).
class SystemProcessRunner final : public ProcessRunner {
public:
  ProcessResult run(const ProcessSpec& spec) override;
};

} // namespace loadmatrix
