// Starting a child in a process group of its own: the one place that forks, shared by the
// run-to-completion runner and the line-protocol workers.
#pragma once

#include "util/error.h"

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace loadmatrix {

struct SpawnRequest {
  std::vector<std::string> argv; // argv[0] is looked up on PATH when it has no '/'
  std::vector<std::string> env;  // NAME=VALUE on top of the driver's environment
  std::optional<std::string> working_dir;
  int stdin_fd = -1; // -1: /dev/null
  int stdout_fd = -1;
  int stderr_fd = -1;
};

// Where `name` (no '/') is found on PATH, as a spawn would run it; empty when nowhere.
std::filesystem::path find_on_path(const std::string& name);

// The child's pid; it leads its own process group, so -pid signals everything it starts.
Expected<pid_t> spawn_in_own_group(const SpawnRequest& request);

// waitpid, retried on EINTR; false when `block` is false and the child still runs.
bool reap(pid_t pid, int& status, bool block);

// How long a process group gets between SIGTERM and SIGKILL unless its caller says otherwise.
inline constexpr std::chrono::milliseconds kDefaultKillGrace{std::chrono::seconds(2)};

// Ends the process group `pid` leads: SIGTERM, up to `grace` for `pid` to exit (calling
// `while_waiting` between polls, e.g. to keep draining its pipes so it is not blocked on a
// full one; by default a 10 ms sleep), then SIGKILL to the group. Returns once `pid` is
// reaped; `status` is its wait status.
void terminate_group(pid_t pid, int& status, std::chrono::milliseconds grace,
                     const std::function<void()>& while_waiting = {});

// A pipe whose ends close with it; both ends are close-on-exec.
class Pipe {
public:
  Pipe();
  ~Pipe();
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  bool ok() const { return fds_[0] >= 0; }
  int read_end() const { return fds_[0]; }
  int write_end() const { return fds_[1]; }
  void close_read() { close_fd(fds_[0]); }
  void close_write() { close_fd(fds_[1]); }
  // Hands an end over to the caller, who closes it.
  int release_read() { return std::exchange(fds_[0], -1); }
  int release_write() { return std::exchange(fds_[1], -1); }

private:
  static void close_fd(int& fd);
  int fds_[2];
};

} // namespace loadmatrix
