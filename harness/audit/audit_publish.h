// A finished audit's outputs: audit.json and SARIF where asked, under --out also report.html
// and summary.md, and the table; its exit status.
#pragma once

#include "audit/audit_job.h"

namespace loadmatrix {

// Throws FatalError naming an output that could not be written.
ExitStatus publish_audit(const AuditJobResult& job, const DocumentOutputs& outputs,
                         const std::vector<std::filesystem::path>& paths, JobOutput& output);

} // namespace loadmatrix
