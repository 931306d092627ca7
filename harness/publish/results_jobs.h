// The jobs over results.json files, which run nothing: `report` and `diff` (one run's results,
// maybe against a baseline) and `merge` (shards' results into one). Like run, scan and audit,
// each writes its outputs and returns its exit status; the CLI only maps flags to requests.
#pragma once

#include "publish/job_output.h"
#include "publish/publish.h"

#include <filesystem>
#include <vector>

namespace loadmatrix {

struct ReportRequest {
  std::filesystem::path results; // a run's results.json
  std::filesystem::path out_dir; // where the reports go
  PublishOptions publishing;     // a baseline makes it `diff`
};

// The reports and the headline; the status the --fail-on policy gives. Throws FatalError for a
// results file that cannot be read or an output that cannot be written.
ExitStatus report_job(const ReportRequest& request, JobOutput& output);

struct MergeRequest {
  std::vector<std::filesystem::path> inputs; // each shard's results.json
  std::filesystem::path out_dir;             // the merged results.json and its reports
  bool allow_missing = false;                // a cell no shard recorded is accepted
  PublishOptions publishing;
};

// Writes the merged results and their reports, then throws FatalError naming the first missing
// cells when some are missing and that is not allowed; else the policy's status.
ExitStatus merge_results_job(const MergeRequest& request, JobOutput& output);

} // namespace loadmatrix
