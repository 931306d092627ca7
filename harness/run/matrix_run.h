// The main job: every recipe saved by every producer env, loaded by every consumer env under
// every loader mode, plus every scenario in every env; each cell recorded as it finishes.
#pragma once

#include "envs/environment.h"
#include "matrix/case_catalog.h"
#include "matrix/loader_mode.h"
#include "matrix/matrix.h"
#include "probes/cpp_probe_build.h"
#include "records/result_store.h"
#include "run/shard.h"
#include "util/progress.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <vector>

namespace loadmatrix {

struct RunOptions {
  std::filesystem::path out_dir;
  Shard shard;
  bool save_only = false; // only the producer side: checkpoints and env.json, no loads
  // Producers' checkpoints saved by earlier --save-only runs (DIR/PRODUCER/...); when set,
  // nothing is saved and producer envs need not exist here.
  std::optional<std::filesystem::path> checkpoints_from;
  std::vector<LoaderMode> modes;                  // empty: all
  size_t jobs = 0;                                // envs at once; 0: one per core
  std::vector<std::filesystem::path> python_path; // host dirs the user's recipes import from
  // The corpus's importable classes (cases/fixtures), on every worker's PYTHONPATH; empty: none
  std::filesystem::path fixtures_dir;
  std::chrono::seconds cell_timeout{60};
  uint64_t cell_memory_bytes = 0; // RLIMIT_AS of each cell's process; 0: none
  // Each consumer env's files and scenarios loaded, of those this run loads there.
  ProgressCounter progress;
};

struct RunPlan {
  std::vector<Environment> envs;      // the envs this process runs things in
  std::vector<std::string> producers; // every producer env name of the matrix selection
  std::vector<std::string> consumers; // every consumer env name, in matrix order
  Pairs pairs = Pairs::all;           // which producers each consumer loads (matrix/matrix.h)
  // The producers `consumer` loads from, by `pairs`.
  std::vector<std::string> producers_of(const std::string& consumer) const;
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

// The part of results.json that describes the run's envs, cases and modes. Producers that did
// not run here are described by the env.json their --save-only run left beside their files.
Json results_header(const RunPlan& plan, const std::vector<LoaderMode>& modes,
                    const std::filesystem::path& checkpoints_root);

// Where the producers' files are (run/checkpoint_paths.h).
std::filesystem::path checkpoints_root(const RunOptions& options);

} // namespace loadmatrix
