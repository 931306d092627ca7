// summary.md: the headline per version change, for a PR comment or a CI step summary.
#pragma once

#include "analysis/results_model.h"

#include <string>

namespace loadmatrix {

inline constexpr size_t kSummaryLimit = 1000 * 1000; // GitHub step summaries cap at 1 MiB

std::string render_markdown_summary(const ResultsModel& model);

} // namespace loadmatrix
