#include "cli/progress_meter.h"

#include "util/terminal.h"

#include <cstdlib>
#include <fmt/core.h>
#include <iostream>

namespace loadmatrix {

bool live_progress_wanted(const GlobalOptions& options) {
  const char* ci = std::getenv("CI");
  bool in_ci = ci != nullptr && *ci != '\0' && std::string_view(ci) != "false" &&
               std::string_view(ci) != "0";
  return !options.quiet && !in_ci && escape_capable_terminal(2);
}

ProgressMeter::ProgressMeter(const GlobalOptions& options, std::string job, std::string unit)
    : options_(options), job_(std::move(job)), unit_(std::move(unit)),
      live_(live_progress_wanted(options)), width_(output_width(2)) {}

ProgressMeter::~ProgressMeter() {
  finish();
}

void ProgressMeter::finish() {
  std::lock_guard lock(mutex_);
  clear_locked();
  live_ = false;
}

void ProgressMeter::stage(const std::string& line) {
  if (options_.quiet) {
    return;
  }
  std::lock_guard lock(mutex_);
  clear_locked();
  std::cerr << "loadmatrix: " << line << std::endl;
  if (live_ && !envs_.empty()) {
    draw_locked(true);
  }
}

void ProgressMeter::count(const std::string& env, size_t done, size_t total) {
  if (!live_) {
    return;
  }
  std::lock_guard lock(mutex_);
  envs_[env] = {done, total};
  draw_locked(false);
}

std::string ProgressMeter::render(const std::string& job, const std::string& unit,
                                  const std::map<std::string, std::pair<size_t, size_t>>& envs,
                                  double elapsed, size_t width) {
  size_t done = 0;
  size_t total = 0;
  std::string per_env;
  for (const auto& [env, counts] : envs) {
    done += counts.first;
    total += counts.second;
    per_env += fmt::format(" · {} {}/{}", env, counts.first, counts.second);
  }
  std::string eta = "ETA -";
  if (done > 0 && done < total && elapsed > 0) {
    auto seconds = static_cast<long long>(
        elapsed / static_cast<double>(done) * static_cast<double>(total - done) + 0.5);
    eta = seconds >= 60 ? fmt::format("ETA {}m{:02}s", seconds / 60, seconds % 60)
                        : fmt::format("ETA {}s", seconds);
  } else if (total > 0 && done >= total) {
    eta = "done";
  }
  std::string head =
      fmt::format("{} {}/{} {} ({}%)", job, done, total, unit, total > 0 ? done * 100 / total : 0);
  std::string line = head + per_env + " · " + eta;
  if (display_width(line) > width) {
    line = head + " · " + eta; // the per-env shares go first when the terminal is narrow
  }
  // One column short of the width: a terminal that wraps at its last column would scroll.
  return display_width(line) > width && width > 1 ? fit_width(line, width - 1) : line;
}

void ProgressMeter::draw_locked(bool force) {
  auto now = std::chrono::steady_clock::now();
  bool finished = true;
  for (const auto& [env, counts] : envs_) {
    finished = finished && counts.first >= counts.second;
  }
  if (!force && !finished && now - drawn_ < std::chrono::milliseconds(100)) {
    return;
  }
  drawn_ = now;
  double elapsed = std::chrono::duration<double>(now - started_).count();
  std::cerr << "\r\x1b[K" << render(job_, unit_, envs_, elapsed, width_) << std::flush;
  shown_ = true;
}

void ProgressMeter::clear_locked() {
  if (shown_) {
    std::cerr << "\r\x1b[K" << std::flush;
    shown_ = false;
  }
}

} // namespace loadmatrix
