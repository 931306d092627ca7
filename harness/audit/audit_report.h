// The audit for reviewers: report.html (self-contained: report.css inlined) and summary.md, each
// with the call-site section (every call, what it does per env, its findings and fixes, the
// scenarios of a linked run that failed there and the fixes they proved) and the files that
// could not be audited.
#pragma once

#include "audit/audit_job.h"

#include <string>

namespace loadmatrix {

std::string render_audit_html(const AuditJobResult& job, const std::string& css);
std::string render_audit_markdown(const AuditJobResult& job);

} // namespace loadmatrix
