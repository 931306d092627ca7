#include "util/line_process.h"

#include "util/json_file.h"
#include "util/output_file.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace loadmatrix {

Expected<std::unique_ptr<LineProcess>> LineProcess::start(const std::vector<std::string>& argv,
                                                          const std::filesystem::path& stderr_log) {
  auto opened = open_output_stream(stderr_log, StreamStart::kAppend);
  if (!opened) {
    return opened.error();
  }
  int log = *opened;
  Pipe to_child;
  Pipe from_child;
  if (!to_child.ok() || !from_child.ok()) {
    ::close(log);
    return Error{fmt::format("pipe: {}", std::strerror(errno))};
  }
  auto pid = spawn_in_own_group(
      {argv, {}, std::nullopt, to_child.read_end(), from_child.write_end(), log});
  ::close(log);
  if (!pid) {
    return pid.error();
  }
  to_child.close_read();
  from_child.close_write();
  int out = from_child.release_read();
  ::fcntl(out, F_SETFL, O_NONBLOCK);
  return std::unique_ptr<LineProcess>(new LineProcess(*pid, to_child.release_write(), out));
}

LineProcess::~LineProcess() {
  stop(std::chrono::milliseconds(0));
}

Expected<void> LineProcess::send(const std::string& line) {
  return write_all(in_, line + "\n", fmt::format("to pid {}", pid_));
}

LineProcess::Read LineProcess::read_line(LineFilter wanted, Clock::time_point deadline,
                                         size_t max_line) {
  for (;;) {
    size_t newline;
    while ((newline = buffer_.find('\n')) != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      if (wanted(line)) {
        return {ReadStatus::line, std::move(line)};
      }
    }
    if (buffer_.size() > max_line) {
      return {ReadStatus::too_long, {}};
    }
    if (out_ < 0) {
      return {ReadStatus::eof, {}};
    }
    auto now = Clock::now();
    if (now >= deadline) {
      return {ReadStatus::timeout, {}};
    }
    pollfd fd{out_, POLLIN, 0};
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    int rc = ::poll(&fd, 1, static_cast<int>(std::min<long long>(wait + 1, 1000)));
    if (rc < 0 && errno != EINTR) {
      return {ReadStatus::eof, {}};
    }
    if (rc <= 0) {
      continue;
    }
    char chunk[65536];
    ssize_t n = ::read(out_, chunk, sizeof chunk);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      ::close(out_);
      out_ = -1;
    }
  }
}

ProcessResult LineProcess::stop(std::chrono::milliseconds grace) {
  ProcessResult result;
  if (in_ >= 0) {
    ::close(in_);
    in_ = -1;
  }
  if (!reaped_) {
    auto until = Clock::now() + grace;
    while (!(reaped_ = reap(pid_, status_, false)) && Clock::now() < until) {
      ::usleep(10000);
    }
    bool killed = !reaped_;
    if (killed) {
      terminate_group(pid_, status_, kDefaultKillGrace);
      reaped_ = true;
    }
    ::kill(-pid_, SIGKILL); // stragglers of the group
    if (killed) {
      result.termination = Termination::timed_out;
    }
  }
  if (out_ >= 0) {
    ::close(out_);
    out_ = -1;
  }
  if (result.termination != Termination::timed_out) {
    if (WIFSIGNALED(status_)) {
      result.termination = Termination::signaled;
      result.signal = WTERMSIG(status_);
    } else {
      result.termination = Termination::exited;
      result.exit_code = WEXITSTATUS(status_);
    }
  }
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_);
  return result;
}

} // namespace loadmatrix
