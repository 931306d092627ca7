// report.html: one self-contained file for reviewers. The headline, the version-change
// sections with grouped causes and fixes, the env table and the grids are plain HTML, readable
// with JavaScript off; the inline script adds filters kept in the URL.
#pragma once

#include "analysis/results_model.h"

#include <filesystem>
#include <string>

namespace loadmatrix {

// `assets` holds report.css and report.js (the repository's reports/ folder).
std::string render_html_report(const ResultsModel& model, const std::filesystem::path& assets);

} // namespace loadmatrix
