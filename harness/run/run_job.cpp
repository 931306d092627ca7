#include "run/run_job.h"

#include "matrix/matrix.h"
#include "session/env_preparation.h"

#include <algorithm>
#include <fmt/core.h>
#include <ostream>

namespace loadmatrix {

namespace {

// The plan's cases, producers and consumers from the request, checked before any env is built.
RunPlan plan_for(const RunRequest& request, const std::vector<EnvSpec>& specs, Pairs pairs,
                 const ProgressLog& log) {
  const RunOptions& options = request.options;
  RunPlan plan;
  plan.pairs = pairs;
  plan.cases = discover_cases(request.case_roots, request.case_globs);
  if (plan.cases.empty()) {
    throw FatalError("--cases: no case matches");
  }
  for (const auto& dir : options.python_path) {
    if (!std::filesystem::is_directory(dir)) {
      throw FatalError(fmt::format("--python-path {}: not a directory", dir.string()));
    }
  }
  for (const auto& spec : specs) {
    plan.producers.push_back(spec.name);
    plan.consumers.push_back(spec.name);
  }
  if (options.checkpoints_from) {
    // A producer whose save job failed costs its own files' cells, not this shard's: the
    // consumers load what the others saved.
    std::erase_if(plan.producers, [&](const std::string& producer) {
      auto described = *options.checkpoints_from / producer / "env.json";
      if (std::filesystem::exists(described)) {
        return false;
      }
      log(fmt::format("--checkpoints {}: no checkpoints of producer '{}' ({} is missing; run "
                      "--save-only --envs {} first): its files are not loaded",
                      options.checkpoints_from->string(), producer, described.string(), producer));
      return true;
    });
    if (plan.producers.empty()) {
      throw FatalError(fmt::format("--checkpoints {}: no producer's checkpoints are there (run "
                                   "--save-only first)",
                                   options.checkpoints_from->string()));
    }
  }
  return plan;
}

// The envs that must exist here, provisioned with their C++ probes: every producer that saves,
// and the consumers of this shard.
void prepare_plan_envs(const RunRequest& request, const std::vector<EnvSpec>& specs,
                       ProcessRunner& runner, const ProgressLog& log, RunPlan& plan) {
  const RunOptions& options = request.options;
  auto needed = options.checkpoints_from
                    ? consumers_in_shard(plan.consumers, plan.cases, options.shard)
                    : plan.producers;
  std::vector<EnvSpec> wanted;
  for (const auto& spec : specs) {
    if (std::find(needed.begin(), needed.end(), spec.name) != needed.end()) {
      wanted.push_back(spec);
    }
  }
  EnvPreparation preparation;
  preparation.env_dir = request.env_dir;
  preparation.shipped = request.shipped;
  preparation.provisioning = EnvProvisioning::kBuildMissing;
  preparation.cpp_probes = true;
  PreparedEnvs prepared = prepare_envs(wanted, preparation, runner, log);
  plan.envs = std::move(prepared.envs);
  plan.cpp_probes = std::move(prepared.cpp_probes);
}

// "5904 cells (5904 run now, 0 resumed) in 111.0 s: 3000 pass, ..."
std::string counts_line(const RunJobResult& result) {
  std::string counts;
  for (const auto& info : outcomes()) {
    if (auto it = result.report.counts.find(info.outcome); it != result.report.counts.end()) {
      counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", it->second, info.id);
    }
  }
  return fmt::format("{} cells ({} run now, {} resumed) in {:.1f} s: {}\n", result.cells,
                     result.report.cells, result.report.resumed, result.report.wall_seconds,
                     counts.empty() ? "nothing new" : counts);
}

} // namespace

RunJobResult run_job(const RunRequest& request, ProcessRunner& runner, const ProgressLog& log,
                     JobOutput& output) {
  const RunOptions& options = request.options;
  Matrix matrix = load_matrix(request.matrix);
  auto specs = matrix.select_envs(request.envs);
  RunPlan plan = plan_for(request, specs, matrix.pairs, log);
  prepare_plan_envs(request, specs, runner, log, plan);

  RunJobResult result;
  result.checkpoints = checkpoints_root(options);
  if (request.start == RunStart::kFresh && !options.checkpoints_from &&
      std::filesystem::exists(options.out_dir / "checkpoints")) {
    // A fresh run must not mix in checkpoints an earlier run saved.
    std::filesystem::remove_all(options.out_dir / "checkpoints");
    std::filesystem::remove_all(options.out_dir / "scratch");
  }
  if (options.save_only) {
    auto store =
        ResultStore::open(options.out_dir, RunStart::kFresh, Json::object()).value_or_throw();
    result.report = run_matrix(plan, options, *store, runner, log);
    output.out() << "checkpoints: " << result.checkpoints.string() << "\n";
    return result;
  }
  Json header = results_header(plan, options.modes, result.checkpoints);
  Json started = {{"started", utc_now_iso8601()},
                  {"matrix", request.matrix.string()},
                  {"shard", request.shard_text}};
  header["run"] = started;
  bool resume = request.start == RunStart::kResume;
  auto store = ResultStore::open(options.out_dir, request.start, header).value_or_throw();
  log(fmt::format("run: {} env(s) x {} case(s) into {}{}", plan.envs.size(), plan.cases.size(),
                  options.out_dir.string(),
                  resume ? fmt::format(" (resuming: {} cells kept)", store->resumed()) : ""));
  try {
    result.report = run_matrix(plan, options, *store, runner, log);
  } catch (const std::exception&) {
    // Even a fault of the driver's own keeps every cell recorded so far in results.json.
    Json interrupted = started;
    interrupted["interrupted"] = true;
    (void)store->write_results({{"run", interrupted}});
    throw;
  }
  Json finished = started;
  finished["finished"] = utc_now_iso8601();
  finished["wall_seconds"] = result.report.wall_seconds;
  finished["cells"] = store->size();
  store->write_results({{"run", finished}}).value_or_throw();
  result.cells = store->size();
  result.results = options.out_dir / "results.json";
  auto [written_header, records] = read_results(result.results).value_or_throw();
  output.out() << counts_line(result) << "results: " << result.results.string() << "\n";
  result.status = publish(std::move(written_header), std::move(records), options.out_dir,
                          request.publishing, output.out(), output.err());
  return result;
}

} // namespace loadmatrix
