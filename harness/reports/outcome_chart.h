// The picture at the top of report.html: per mode (rows) and consumer env in torch-version order
// (columns), a bar of how many cells passed, were blocked, or failed otherwise, and between two
// adjacent envs the regressions of that mode, so the flip at 2.6 is seen before it is read.
// Inline SVG, no script and no fonts or images fetched: readable with JavaScript off and offline.
#pragma once

#include "analysis/results_model.h"

#include <string>

namespace loadmatrix {

// The <figure> holding the SVG; "" when the model has no records.
std::string outcome_chart(const ResultsModel& model);

} // namespace loadmatrix
