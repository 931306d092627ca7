// The terminal view of a scan: one line per checkpoint (its verdict, then each env's bare
// torch.load: "blocked (2) fix✓", "pass?" for a prediction nothing loaded, "[predicted X]"
// where prediction and load disagree), then the unreadable and dangerous files by name.
#pragma once

#include "envs/environment.h"
#include "scan/scan_result.h"

#include <string>
#include <vector>

namespace loadmatrix {

std::string render_scan_table(const ScanResult& result, const std::vector<Environment>& envs);

} // namespace loadmatrix
