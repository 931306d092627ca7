// The terminal view of a scan: one line per checkpoint (its verdict, then each env's bare
// torch.load: "blocked (2) fix✓", "pass?" for a prediction nothing loaded, "[predicted X]"
// where prediction and load disagree), then per file that some env refuses the globals, where
// each sits, the allowlist and the envs, then the unreadable and dangerous files by name.
#pragma once

#include "envs/environment.h"
#include "scan/scan_result.h"
#include "util/terminal.h"

#include <optional>
#include <string>
#include <vector>

namespace loadmatrix {

// The allowlist call a user types for an env with numpy `numpy` (its version, or none):
// "torch.serialization.add_safe_globals([argparse.Namespace, ...])", a numpy.core global under
// numpy 2 as its (object, name) pair (records/portable_fix.h, numpy2_home).
std::string allowlist_call(const std::vector<std::string>& globals,
                           const std::optional<std::string>& numpy);

// `width`: the columns the table may use (util/text_table.h); `palette`: its colours.
std::string render_scan_table(const ScanResult& result, const std::vector<Environment>& envs,
                              size_t width = 80, const Palette& palette = Palette());

} // namespace loadmatrix
