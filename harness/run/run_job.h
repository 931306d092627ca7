// `loadmatrix run` as a job: a typed request in, a typed result out, no flags and no printing.
// The CLI maps its flags to a RunRequest; publish/ turns the result's records into reports.
#pragma once

#include "run/matrix_run.h"

#include <filesystem>
#include <string>
#include <vector>

namespace loadmatrix {

struct RunRequest {
  std::filesystem::path matrix;  // the matrix file
  std::filesystem::path env_dir; // the env cache
  std::vector<std::string> envs; // of the matrix; empty: all
  // Directories of cases (the built-in corpus, the user's own) and name globs selecting among
  // them; no glob selects every case.
  std::vector<std::filesystem::path> case_roots;
  std::vector<std::string> case_globs;
  RunStart start = RunStart::kFresh;
  std::string shard_text = "1/1"; // as given, recorded in results.json
  RunOptions options;             // out_dir, shard, modes, limits, python_path (absolute)
};

struct RunJobResult {
  RunReport report;
  size_t cells = 0;                  // in results.json now, resumed ones included
  std::filesystem::path results;     // OUT/results.json; empty after a save-only run
  std::filesystem::path checkpoints; // where the producers' files are
  Json header;                       // results.json as written, for publishing
  std::vector<Record> records;
};

// Validates the request (cases, python path, checkpoints of --checkpoints), provisions the
// envs this shard needs and their C++ probes, runs the matrix, and writes results.json. Every
// cell recorded so far is kept in results.json even when the run ends in an error. Throws
// FatalError for what ends the job (no case matches, a missing producer).
RunJobResult run_job(const RunRequest& request, ProcessRunner& runner, const ProgressLog& log);

} // namespace loadmatrix
