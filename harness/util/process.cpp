#include "util/process.h"

// Under BOOST_PROCESS_USE_STD_FS, Boost 1.81's process/v2 headers name boost::optional and
// boost type traits (remove_pointer, is_same, ...) without including them: these come first.
#include <boost/optional.hpp>
#include <boost/type_traits.hpp>
// clang-format off
#include <boost/asio/io_context.hpp>
#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/start_dir.hpp>
#include <boost/process/v2/stdio.hpp>
// clang-format on
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bp = boost::process::v2;
using Clock = std::chrono::steady_clock;

namespace loadmatrix {

const char* termination_name(Termination termination) {
  switch (termination) {
  case Termination::exited:
    return "exited";
  case Termination::signaled:
    return "signaled";
  case Termination::timed_out:
    return "timed_out";
  case Termination::spawn_failed:
    return "spawn_failed";
  }
  return "unknown";
}

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

std::string truncate_utf8(const std::string& text, size_t limit) {
  size_t cut = std::min(limit, text.size());
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  // Find where the last kept sequence starts, then drop it if it lacks continuation bytes.
  size_t lead = cut;
  while (lead > 0 && cut - lead < 4 && (byte(lead - 1) & 0xC0) == 0x80) {
    --lead;
  }
  if (lead > 0) {
    unsigned char first = byte(lead - 1);
    size_t needed = first >= 0xF0 ? 4 : first >= 0xE0 ? 3 : first >= 0xC0 ? 2 : 1;
    if (cut - (lead - 1) < needed) {
      cut = lead - 1;
    }
  }
  return text.substr(0, cut);
}

namespace {

// Runs in the child between fork and exec: a group of its own so the whole tree can be
// signalled, and default SIGPIPE (the driver ignores it; the child must not inherit that).
struct ChildSetup {
  // Set here rather than with bp::process_environment, whose on_setup Boost 1.81 only
  // defines in its separately compiled sources.
  const char* const* environment;

  template <typename Launcher>
  bp::error_code on_setup(Launcher& launcher, const bp::filesystem::path&, const char* const*) {
    launcher.env = environment;
    return {};
  }

  template <typename Launcher>
  bp::error_code on_exec_setup(Launcher&, const bp::filesystem::path&, const char* const*) {
    if (::setpgid(0, 0) != 0) {
      return bp::error_code(errno, bp::system_category());
    }
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    return {};
  }
};

class Pipe {
public:
  Pipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) {
      fds_[0] = fds_[1] = -1;
    }
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  bool ok() const { return fds_[0] >= 0; }
  int read_end() const { return fds_[0]; }
  int write_end() const { return fds_[1]; }
  void close_read() { close_fd(fds_[0]); }
  void close_write() { close_fd(fds_[1]); }

private:
  static void close_fd(int& fd) {
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
  }
  int fds_[2];
};

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

bool reap(pid_t pid, int& status, bool block) {
  for (;;) {
    pid_t rc = ::waitpid(pid, &status, block ? 0 : WNOHANG);
    if (rc == pid) {
      return true;
    }
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    return false;
  }
}

} // namespace

ProcessResult SystemProcessRunner::run(const ProcessSpec& spec) {
  ProcessResult result;
  auto started = Clock::now();
  if (spec.argv.empty()) {
    result.spawn_error = "empty command line";
    return result;
  }

  bp::filesystem::path executable = spec.argv[0];
  if (spec.argv[0].find('/') == std::string::npos) {
    executable = bp::environment::find_executable(spec.argv[0]);
    if (executable.empty()) {
      result.spawn_error = fmt::format("{}: not found on PATH", spec.argv[0]);
      return result;
    }
  }

  Pipe out_pipe;
  Pipe err_pipe;
  if (!out_pipe.ok() || !err_pipe.ok()) {
    result.spawn_error = fmt::format("pipe: {}", std::strerror(errno));
    return result;
  }

  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    environment.emplace_back(*entry);
  }
  for (const auto& extra : spec.env) {
    auto name = extra.substr(0, extra.find('=') + 1);
    std::erase_if(environment, [&](const std::string& e) { return e.starts_with(name); });
    environment.push_back(extra);
  }

  std::vector<const char*> environment_pointers;
  for (const auto& entry : environment) {
    environment_pointers.push_back(entry.c_str());
  }
  environment_pointers.push_back(nullptr);

  boost::asio::io_context context;
  bp::error_code ec;
  std::vector<std::string> args(spec.argv.begin() + 1, spec.argv.end());
  bp::process_start_dir start_dir(spec.working_dir.value_or("."));
  bp::basic_process<boost::asio::io_context::executor_type> child = bp::default_process_launcher()(
      context.get_executor(), ec, executable, args,
      bp::process_stdio{nullptr, out_pipe.write_end(), err_pipe.write_end()}, start_dir,
      ChildSetup{environment_pointers.data()});
  out_pipe.close_write();
  err_pipe.close_write();
  if (ec) {
    result.spawn_error = fmt::format("{}: {}", spec.argv[0], ec.message());
    result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    return result;
  }
  // The deadline loop below owns the child's lifetime; basic_process must not also kill it.
  pid_t pid = child.id();
  child.detach();

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
    ::kill(-pid, SIGTERM);
    auto grace_end = Clock::now() + spec.kill_grace;
    while (!(exited = reap(pid, status, false)) && Clock::now() < grace_end) {
      pump(out, err, std::min(grace_end, Clock::now() + std::chrono::milliseconds(20)));
    }
    ::kill(-pid, SIGKILL);
    if (!exited) {
      reap(pid, status, true);
    }
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
