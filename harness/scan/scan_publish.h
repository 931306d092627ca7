// A finished scan's outputs: scan.json and SARIF where asked, the table, and under --out the
// run's results.json and reports (a scan's records are a run's: scan_as_results). Its exit
// status is its files' verdicts, not a --fail-on policy.
#pragma once

#include "scan/scan_job.h"

namespace loadmatrix {

// Throws FatalError naming an output that could not be written.
ExitStatus publish_scan(const ScanJobResult& job, const ScanJobRequest& request, JobOutput& output);

} // namespace loadmatrix
