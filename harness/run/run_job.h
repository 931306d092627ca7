// `loadmatrix run` as a job: a typed request in, the outputs written (results.json, then the
// reports through publish/), the exit status out. The CLI only maps its flags to a RunRequest.
#pragma once

#include "publish/job_output.h"
#include "publish/publish.h"
#include "run/matrix_run.h"

#include <filesystem>
#include <string>
#include <vector>

namespace loadmatrix {

struct RunRequest {
  std::filesystem::path matrix;  // the matrix file
  std::filesystem::path env_dir; // the env cache
  ShippedFiles shipped;          // what runs inside the envs
  std::vector<std::string> envs; // of the matrix; empty: all
  // Directories of cases (the built-in corpus, the user's own) and name globs selecting among
  // them; no glob selects every case.
  std::vector<std::filesystem::path> case_roots;
  std::vector<std::string> case_globs;
  RunStart start = RunStart::kFresh;
  std::string shard_text = "1/1"; // as given, recorded in results.json
  RunOptions options;             // out_dir, shard, modes, limits, python_path (absolute)
  PublishOptions publishing;      // the reports: baseline, --fail-on policy, pairs, assets
};

struct RunJobResult {
  RunReport report;
  size_t cells = 0;                   // in results.json now, resumed ones included
  std::filesystem::path results;      // OUT/results.json; empty after a save-only run
  std::filesystem::path checkpoints;  // where the producers' files are
  ExitStatus status = ExitStatus::ok; // the --fail-on policy's verdict on the records
};

// Validates the request (cases, python path, checkpoints of --checkpoints), provisions the
// envs this shard needs and their C++ probes (session/env_preparation.h), runs the matrix,
// writes results.json, prints the cell counts and publishes the reports (publish/).
// A --save-only run prints where its checkpoints are instead. Every cell recorded so far is kept
// in results.json even when the run ends in an error. Throws FatalError for what ends the job
// (no case matches, a missing producer).
RunJobResult run_job(const RunRequest& request, ProcessRunner& runner, const ProgressLog& log,
                     JobOutput& output);

} // namespace loadmatrix
