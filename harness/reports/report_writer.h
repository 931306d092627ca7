// Writes report.html, summary.md and junit.xml next to a run's results.json, atomically.
#pragma once

#include "analysis/results_model.h"
#include "util/error.h"

#include <filesystem>

namespace loadmatrix {

Expected<bool> write_reports(const ResultsModel& model, const std::filesystem::path& out_dir);

} // namespace loadmatrix
