#include "util/spawn.h"

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
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace bp = boost::process::v2;

namespace loadmatrix {

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

} // namespace

Pipe::Pipe() {
  if (::pipe2(fds_, O_CLOEXEC) != 0) {
    fds_[0] = fds_[1] = -1;
  }
}

Pipe::~Pipe() {
  close_read();
  close_write();
}

void Pipe::close_fd(int& fd) {
  if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
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

void terminate_group(pid_t pid, int& status, std::chrono::milliseconds grace,
                     const std::function<void()>& while_waiting) {
  ::kill(-pid, SIGTERM);
  auto grace_end = std::chrono::steady_clock::now() + grace;
  bool exited = false;
  while (!(exited = reap(pid, status, false)) && std::chrono::steady_clock::now() < grace_end) {
    if (while_waiting) {
      while_waiting();
    } else {
      ::usleep(10000);
    }
  }
  ::kill(-pid, SIGKILL);
  if (!exited) {
    reap(pid, status, true);
  }
}

std::filesystem::path find_on_path(const std::string& name) {
  return bp::environment::find_executable(name);
}

Expected<pid_t> spawn_in_own_group(const SpawnRequest& request) {
  if (request.argv.empty()) {
    return Error{"empty command line"};
  }
  bp::filesystem::path executable = request.argv[0];
  if (request.argv[0].find('/') == std::string::npos) {
    executable = find_on_path(request.argv[0]);
    if (executable.empty()) {
      return Error{fmt::format("{}: not found on PATH", request.argv[0])};
    }
  }

  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    environment.emplace_back(*entry);
  }
  for (const auto& extra : request.env) {
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
  std::vector<std::string> args(request.argv.begin() + 1, request.argv.end());
  bp::process_start_dir start_dir(request.working_dir.value_or("."));
  ChildSetup setup{environment_pointers.data()};
  int stdin_fd = request.stdin_fd;
  int dev_null = -1;
  if (stdin_fd < 0) {
    dev_null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (dev_null < 0) {
      return Error{fmt::format("open /dev/null: {}", std::strerror(errno))};
    }
    stdin_fd = dev_null;
  }
  auto child = bp::default_process_launcher()(
      context.get_executor(), ec, executable, args,
      bp::process_stdio{stdin_fd, request.stdout_fd, request.stderr_fd}, start_dir, setup);
  if (dev_null >= 0) {
    ::close(dev_null);
  }
  if (ec) {
    return Error{fmt::format("{}: {}", request.argv[0], ec.message())};
  }
  // Callers own the child's lifetime (deadline loops, workers); basic_process must not kill it.
  pid_t pid = child.id();
  child.detach();
  return pid;
}

} // namespace loadmatrix
