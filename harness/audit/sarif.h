// The audit as SARIF 2.1.0 (OASIS, sarif-v2.1.0-os), the format code-scanning UIs (GitHub,
// Azure DevOps, VS Code's SARIF viewer) read: one result per finding, at its call site, the
// rules as the driver's reportingDescriptors, and each file the audit could not read or parse
// as a tool execution notification. Validated by Microsoft's SARIF multitool in the tests.
#pragma once

#include "audit/audit_job.h"
#include "util/json_file.h"
#include "util/sarif_log.h"

#include <filesystem>
#include <string>

namespace loadmatrix {

// `base`: a file under it gets a relative URI against uriBaseId SRCROOT (= base), which is what
// code scanning matches against a repository; any other gets an absolute file:// URI
// (util/sarif_log.h). `information_uri`: the tool's documentation (sarif_information_uri).
Json audit_sarif(const AuditJobResult& job, const std::filesystem::path& base,
                 const std::string& information_uri);

} // namespace loadmatrix
