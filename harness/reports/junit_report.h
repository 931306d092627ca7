// junit.xml: one testcase per cell, for CI systems that show test results.
#pragma once

#include "analysis/results_model.h"

#include <string>

namespace loadmatrix {

// classname = case; name = consumer/mode/producer (unique per cell); blocked, error, crash,
// timeout and mismatch are <failure type="OUTCOME">; unsupported and skipped are <skipped>.
std::string render_junit(const ResultsModel& model);

} // namespace loadmatrix
