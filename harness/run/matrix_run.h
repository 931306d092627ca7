// The main job: every recipe saved by every producer env, loaded by every consumer env under
// every loader mode, plus every scenario in every env; each cell recorded as it finishes.
#pragma once

#include "envs/environment.h"
#include "matrix/case_catalog.h"
#include "matrix/loader_mode.h"
#include "probes/cpp_probe_build.h"
#include "records/result_store.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <vector>

namespace loadmatrix {

struct RunOptions {
  std::filesystem::path out_dir;
  std::vector<LoaderMode> modes;                  // empty: all
  size_t jobs = 0;                                // envs at once; 0: one per core
  std::vector<std::filesystem::path> python_path; // host dirs the user's recipes import from
  std::chrono::seconds cell_timeout{60};
};

struct RunPlan {
  std::vector<Environment> envs;
  std::vector<CaseSpec> cases;
  std::map<std::string, CppProbe> cpp_probes; // by env name; an env without one skips cpp modes
};

struct RunReport {
  size_t cells = 0;   // recorded by this invocation
  size_t resumed = 0; // taken from an earlier, interrupted run
  double wall_seconds = 0;
  std::map<Outcome, size_t> counts;
};

RunReport run_matrix(const RunPlan& plan, const RunOptions& options, ResultStore& store,
                     ProcessRunner& runner, const ProgressLog& log);

// The part of results.json that describes the run's envs, cases and modes.
Json results_header(const RunPlan& plan, const std::vector<LoaderMode>& modes);

} // namespace loadmatrix
