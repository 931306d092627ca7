#include "util/process.h"

#include "util/spawn.h"
#include "util/utf8.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

using Clock = std::chrono::steady_clock;

namespace loadmatrix {

std::string ProcessResult::describe() const {
  switch (termination) {
  case Termination::exited:
    return fmt::format("exit status {}", exit_code);
  case Termination::signaled:
    return fmt::format("killed by signal {} ({})", signal, ::strsignal(signal));
  case Termination::timed_out:
    return fmt::format("timed out after {} ms", duration.count());
  case Termination::spawn_failed:
    return "could not start: " + spawn_error;
  }
  return "unknown";
}

namespace {

struct Capture {
  int fd;
  size_t limit;
  std::string data;
  bool truncated = false;
  bool open = true;

  // Reads what is available; returns false once the writer side is closed.
  void drain() {
    char buffer[65536];
    for (;;) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n > 0) {
        size_t room = data.size() < limit ? limit - data.size() : 0;
        size_t take = std::min(room, static_cast<size_t>(n));
        data.append(buffer, take);
        truncated = truncated || take < static_cast<size_t>(n);
        continue;
      }
      if (n == 0) {
        open = false;
      } else if (errno == EINTR) {
        continue;
      }
      return; // EAGAIN: nothing more for now
    }
  }
};

std::string finish_capture(const Capture& capture) {
  if (!capture.truncated) {
    return capture.data;
  }
  return truncate_utf8(capture.data, capture.limit) +
         fmt::format("\n[loadmatrix: output truncated after {} bytes]\n", capture.limit);
}

// Polls both pipes until they close or `until` passes. Returns true if both closed.
bool pump(Capture& out, Capture& err, Clock::time_point until) {
  while (out.open || err.open) {
    auto now = Clock::now();
    if (now >= until) {
      return false;
    }
    pollfd fds[2];
    nfds_t count = 0;
    for (Capture* c : {&out, &err}) {
      if (c->open) {
        fds[count++] = pollfd{c->fd, POLLIN, 0};
      }
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
    // Wake at least every 50 ms so the caller can notice a child that exited while a
    // grandchild keeps the pipe open.
    int rc = ::poll(fds, count, static_cast<int>(std::min<long long>(wait + 1, 50)));
    if (rc < 0 && errno != EINTR) {
      return false;
    }
    if (rc <= 0) {
      return false;
    }
    out.open ? out.drain() : void();
    err.open ? err.drain() : void();
  }
  return true;
}

} // namespace

ProcessResult SystemProcessRunner::run(const ProcessSpec& spec) {
  ProcessResult result;
  auto started = Clock::now();
  if (spec.argv.empty()) {
    result.spawn_error = "empty command line";
    return result;
  }

  Pipe out_pipe;
  Pipe err_pipe;
  if (!out_pipe.ok() || !err_pipe.ok()) {
    result.spawn_error = fmt::format("pipe: {}", std::strerror(errno));
    return result;
  }
  auto spawned = spawn_in_own_group(
      {spec.argv, spec.env, spec.working_dir, -1, out_pipe.write_end(), err_pipe.write_end()});
  out_pipe.close_write();
  err_pipe.close_write();
  if (!spawned) {
    result.spawn_error = spawned.error().message;
    result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    return result;
  }
  pid_t pid = *spawned;

  ::fcntl(out_pipe.read_end(), F_SETFL, O_NONBLOCK);
  ::fcntl(err_pipe.read_end(), F_SETFL, O_NONBLOCK);
  Capture out{out_pipe.read_end(), spec.output_limit, {}};
  Capture err{err_pipe.read_end(), spec.output_limit, {}};

  auto deadline = started + spec.timeout;
  int status = 0;
  bool exited = false;
  bool timed_out = false;
  while (!exited) {
    exited = reap(pid, status, false);
    if (exited) {
      break;
    }
    if (Clock::now() >= deadline) {
      timed_out = true;
      break;
    }
    if (!out.open && !err.open) {
      // Both pipes closed but the child lives on: wait without burning a core.
      ::usleep(10000);
      continue;
    }
    pump(out, err, std::min(deadline, Clock::now() + std::chrono::milliseconds(50)));
  }

  if (timed_out) {
    terminate_group(pid, status, spec.kill_grace,
                    [&] { pump(out, err, Clock::now() + std::chrono::milliseconds(20)); });
  } else {
    // The main process is gone; stragglers it left in its group go too, so nothing it
    // started outlives the cell.
    ::kill(-pid, SIGKILL);
  }
  // Collect what is still buffered, but stop reading soon even if a process that escaped the
  // group keeps a pipe open.
  pump(out, err, Clock::now() + std::chrono::milliseconds(500));

  result.stdout_text = finish_capture(out);
  result.stderr_text = finish_capture(err);
  result.stdout_truncated = out.truncated;
  result.stderr_truncated = err.truncated;
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  if (timed_out) {
    result.termination = Termination::timed_out;
  } else if (WIFSIGNALED(status)) {
    result.termination = Termination::signaled;
    result.signal = WTERMSIG(status);
  } else {
    result.termination = Termination::exited;
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

} // namespace loadmatrix
