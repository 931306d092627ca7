// The audit on a terminal: one line per call site (where, which loader, weights_only as written,
// what it does in each env, its rule ids), then the findings in full, then the files that could
// not be read or parsed.
#pragma once

#include "audit/audit_job.h"

#include <string>

namespace loadmatrix {

std::string render_audit_table(const AuditResult& result);

} // namespace loadmatrix
