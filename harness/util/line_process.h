// A child that talks in lines: requests on its stdin, replies on its stdout, stderr appended to
// a log file. Reads have deadlines; stopping it takes its whole process group down.
#pragma once

#include "util/error.h"
#include "util/process.h"
#include "util/spawn.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace loadmatrix {

class LineProcess {
public:
  using Clock = std::chrono::steady_clock;

  static Expected<std::unique_ptr<LineProcess>> start(const std::vector<std::string>& argv,
                                                      const std::filesystem::path& stderr_log);
  ~LineProcess();
  LineProcess(const LineProcess&) = delete;
  LineProcess& operator=(const LineProcess&) = delete;

  Expected<void> send(const std::string& line);

  enum class ReadStatus { line, eof, timeout, too_long };
  struct Read {
    ReadStatus status;
    std::string line; // without the newline
  };
  // Which lines the caller reads; the others (a native library's chatter) are skipped.
  using LineFilter = bool (*)(std::string_view line);
  // The next stdout line `wanted` accepts. A line longer than `max_line` bytes ends the
  // conversation.
  Read read_line(LineFilter wanted, Clock::time_point deadline, size_t max_line = 64 << 20);

  // Closes stdin, waits up to `grace` for an exit, then TERM and KILL to the group.
  ProcessResult stop(std::chrono::milliseconds grace);
  pid_t pid() const { return pid_; }

private:
  LineProcess(pid_t pid, int in, int out) : pid_(pid), in_(in), out_(out) {}
  pid_t pid_;
  int in_;
  int out_;
  std::string buffer_;
  bool reaped_ = false;
  int status_ = 0;
  Clock::time_point started_ = Clock::now();
};

} // namespace loadmatrix
