// What a long job reports besides its stage lines: per env, how many of its units (a run's
// files and scenarios, a scan's files) are done of how many it will do. The CLI draws these as
// one live line on a terminal (cli/progress_meter.h); elsewhere they are not shown. Called
// from the envs' threads at once.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace loadmatrix {

using ProgressCounter = std::function<void(const std::string& env, size_t done, size_t total)>;

} // namespace loadmatrix
