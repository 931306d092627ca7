// Writes report.html, summary.md and junit.xml next to a run's results.json, each through
// write_output_file; one that cannot be written does not stop the others (the error names it).
#pragma once

#include "analysis/results_model.h"
#include "util/error.h"

#include <filesystem>

namespace loadmatrix {

// `assets_dir`: the directory of report.css and report.js, which report.html inlines.
Expected<void> write_reports(const ResultsModel& model, const std::filesystem::path& out_dir,
                             const std::filesystem::path& assets_dir);

} // namespace loadmatrix
