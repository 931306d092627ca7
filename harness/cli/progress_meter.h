// A job's progress on stderr. On a terminal (and not under CI=true, not --quiet): one live line,
// redrawn at most ten times a second, with the units done of the total, each env's share and an
// ETA from the rate so far; stage lines are printed above it. Elsewhere: the stage lines only,
// as a log or a CI system wants them, and nothing that redraws.
#pragma once

#include "cli/cli.h"

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace loadmatrix {

class ProgressMeter {
public:
  // `job` and `unit` name the line: "run", "loads" gives "run 120/480 loads".
  ProgressMeter(const GlobalOptions& options, std::string job, std::string unit);
  ~ProgressMeter(); // clears the live line
  ProgressMeter(const ProgressMeter&) = delete;
  ProgressMeter& operator=(const ProgressMeter&) = delete;

  bool live() const { return live_; }
  // Clears the live line for good: call before printing to stdout on the same terminal.
  void finish();
  void stage(const std::string& line);                           // a ProgressLog
  void count(const std::string& env, size_t done, size_t total); // a ProgressCounter
  // The live line for these counts, `elapsed` seconds in, at most `width` columns.
  static std::string render(const std::string& job, const std::string& unit,
                            const std::map<std::string, std::pair<size_t, size_t>>& envs,
                            double elapsed, size_t width);

private:
  void draw_locked(bool force);
  void clear_locked();

  const GlobalOptions& options_;
  std::string job_;
  std::string unit_;
  bool live_ = false;
  size_t width_ = 80;
  std::mutex mutex_;
  std::map<std::string, std::pair<size_t, size_t>> envs_; // env -> done, total
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point drawn_{};
  bool shown_ = false;
};

// Whether stderr gets a live line: a terminal, TERM not "dumb", CI unset or "false", not quiet.
bool live_progress_wanted(const GlobalOptions& options);

} // namespace loadmatrix
