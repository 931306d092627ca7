// `loadmatrix scan` end to end, minus the CLI: collect the files, the static pass and the
// per-env prediction, then (unless static-only) the loads that check it.
#pragma once

#include "envs/environment.h"
#include "publish/document_outputs.h"
#include "records/record.h"
#include "scan/scan_result.h"
#include "scan/scan_verify.h"
#include "session/env_preparation.h"

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
  // Ask each env which of the files' globals it has (probes/global_resolution.h) before
  // predicting; cached under env_dir's probes/NAME/globals.json ("" = no cache).
  bool resolve_globals = true;
  std::filesystem::path env_dir;
};

ScanResult run_scan(const ScanRequest& request, const ProgressLog& log);

// `loadmatrix scan` as a job: the matrix's envs resolved, then run_scan, then its outputs.
struct ScanJobRequest {
  std::filesystem::path matrix;
  std::vector<std::string> envs; // of the matrix; empty: all
  EnvPreparation preparation;    // the env cache, what runs inside, whether to build
  ScanRequest scan;              // its envs are filled in by the job
  // scan.json (loadmatrix.scan/1, printed on the static pass's threads), its SARIF; --out: both,
  // results.json (records.jsonl) and the three reports
  DocumentOutputs outputs;
};

struct ScanJobResult {
  ScanResult result;
  std::vector<Environment> envs;    // the envs predicted for and loaded in
  std::vector<std::string> missing; // envs of the selection that are not provisioned
  // nothing_found: no file under the paths; failing: a file breaks, is dangerous or unreadable
  ExitStatus status = ExitStatus::ok;
};

// Predictions need each env's measured allowlist and rules: an env that is not provisioned is
// named in `missing` and logged, never silently left out. Writes the outputs asked for, prints
// the table and the reports' headline on `output`. Throws FatalError for a bad matrix, a
// --python-path that is not a directory, a failed provisioning or an output not written.
ScanJobResult scan_job(ScanJobRequest request, ProcessRunner& runner, const ProgressLog& log,
                       JobOutput& output);

// The scan as a run's records (case = file, producer "file", consumer = env; modes default,
// weights_only and allowlist), so the run's analysis and renderers report it too. The header
// carries the scan's agreement and disagreements for the reports' prediction section.
std::pair<Json, std::vector<Record>> scan_as_results(const ScanResult& result);

// scan_as_results, written as OUT/results.json (and records.jsonl) for the run's tools
// (report, diff, merge); returns them for publishing. Throws FatalError naming what failed.
std::pair<Json, std::vector<Record>> write_scan_results(const ScanResult& result,
                                                        const std::filesystem::path& out_dir);

} // namespace loadmatrix
