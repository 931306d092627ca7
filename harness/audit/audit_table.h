// The audit on a terminal: one line per call site (where, which loader, weights_only as written,
// what it does in each env, its rule ids), then the findings in full, then the files that could
// not be read or parsed.
#pragma once

#include "audit/audit_job.h"
#include "util/terminal.h"

#include <string>

namespace loadmatrix {

// `width`: the columns the table may use (util/text_table.h); `palette`: its colours.
std::string render_audit_table(const AuditResult& result, size_t width = 80,
                               const Palette& palette = Palette());

} // namespace loadmatrix
