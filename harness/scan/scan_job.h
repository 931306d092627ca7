// `loadmatrix scan` end to end, minus the CLI: collect the files, the static pass and the
// per-env prediction, then (unless static-only) the loads that check it.
#pragma once

#include "envs/environment.h"
#include "records/record.h"
#include "scan/scan_result.h"
#include "scan/scan_verify.h"

#include <filesystem>
#include <optional>
#include <vector>

namespace loadmatrix {

struct ScanRequest {
  std::vector<std::filesystem::path> paths;
  std::vector<Environment> envs; // in the matrix's order
  bool verify = true;
  size_t static_jobs = 0; // threads for the static pass; 0: one per core
  VerifyOptions verify_options;
};

ScanResult run_scan(const ScanRequest& request, const ProgressLog& log);

// The scan as a run's records (case = file, producer "file", consumer = env; modes default,
// weights_only and allowlist), so the run's analysis and renderers report it too. The header
// carries the scan's agreement and disagreements for the reports' prediction section.
std::pair<Json, std::vector<Record>> scan_as_results(const ScanResult& result);

} // namespace loadmatrix
