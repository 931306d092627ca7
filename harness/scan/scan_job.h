// `loadmatrix scan` end to end, minus the CLI: collect the files, the static pass and the
// per-env prediction, then (unless static-only) the loads that check it.
#pragma once

#include "envs/environment.h"
#include "publish/document_outputs.h"
#include "records/record.h"
#include "scan/scan_result.h"
#include "scan/scan_verify.h"
#include "session/env_preparation.h"
#include "util/scratch_dir.h"

#include <filesystem>
#include <map>
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
  // An env known only by its facts (Environment::facts_source) answers from here, by env name,
  // instead of being asked; it is predicted for and never loaded in.
  std::map<std::string, ResolvedGlobals> facts_answers;
};

ScanResult run_scan(const ScanRequest& request, const ProgressLog& log);

// The static pass: the files under `paths` read and analysed on `jobs` threads (0: one per
// core), in the inputs' order.
std::vector<ScannedFile> static_pass(const std::vector<std::filesystem::path>& paths, size_t jobs);

// What the envs are asked about `files` (run_scan's questions, also `facts export`'s): each
// global their loads would resolve and each sparse layout they rebuild, once; each TorchScript
// archive whole, as a skeleton written into `archives` when given (none: archives are not asked).
EnvQuestions questions_of(const std::vector<ScannedFile>& files, const ScratchDir* archives,
                          const ProgressLog& log);

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
  std::vector<std::string> missing; // envs of the selection neither provisioned nor in the facts
  // nothing_found: no file under the paths; failing: a file breaks, is dangerous or unreadable
  ExitStatus status = ExitStatus::ok;
};

// Predictions need each env's measured allowlist and rules: an env that is not provisioned is
// predicted from its measured facts when a facts file has them (and said to be), else named in
// `missing` and logged, never silently left out. Writes the outputs asked for, prints
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
