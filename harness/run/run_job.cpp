#include "run/run_job.h"

#include "envs/provisioner.h"
#include "matrix/matrix.h"
#include "util/parallel.h"

#include <algorithm>
#include <fmt/core.h>
#include <optional>

namespace loadmatrix {

namespace {

// The envs this invocation runs things in, provisioned on first use, with their C++ probes.
// Missing envs are built all at once: an env's build is mostly waiting on the mirror and on
// dpkg (measured: two at a time on 2 cores, the third waited three minutes for a slot), and a
// first run on a fresh machine is mostly the CLI's build and env builds (README, "First use").
// Each env has its own lock in the cache (envs/env_cache.h), so two builds never touch one env.
void provision_envs(const std::vector<EnvSpec>& specs, const std::vector<std::string>& needed,
                    const std::filesystem::path& env_dir, ProcessRunner& runner,
                    const ProgressLog& log, RunPlan& plan) {
  EnvCache cache(env_dir);
  std::vector<const EnvSpec*> wanted;
  for (const auto& spec : specs) {
    if (std::find(needed.begin(), needed.end(), spec.name) != needed.end()) {
      wanted.push_back(&spec);
    }
  }
  std::vector<std::optional<Environment>> built(wanted.size());
  std::vector<std::optional<CppProbe>> probes(wanted.size());
  for_each_on_own_thread(wanted.size(), wanted.size(), [&](size_t i) {
    const EnvSpec& spec = *wanted[i];
    Provisioner provisioner(cache, runner, log);
    built[i] = provisioner.provision(spec, {}).value_or_throw().environment;
    auto probe = ensure_cpp_probe(*built[i], cache, runner, log);
    if (probe) {
      probes[i] = *probe;
    } else {
      log(fmt::format("env {}: C++ modes will be unsupported: {}", spec.name,
                      probe.error().message));
    }
  });
  for (size_t i = 0; i < wanted.size(); ++i) {
    plan.envs.push_back(std::move(*built[i]));
    if (probes[i]) {
      plan.cpp_probes[wanted[i]->name] = std::move(*probes[i]);
    }
  }
}

} // namespace

RunJobResult run_job(const RunRequest& request, ProcessRunner& runner, const ProgressLog& log) {
  const RunOptions& options = request.options;
  Matrix matrix = load_matrix(request.matrix);
  auto specs = matrix.select_envs(request.envs);
  RunPlan plan;
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
    for (const auto& producer : plan.producers) {
      auto described = *options.checkpoints_from / producer / "env.json";
      if (!std::filesystem::exists(described)) {
        throw FatalError(fmt::format("--checkpoints {}: no checkpoints of producer '{}' ({} is "
                                     "missing; run --save-only --envs {} first)",
                                     options.checkpoints_from->string(), producer,
                                     described.string(), producer));
      }
    }
  }
  // Envs that must exist here: every producer that saves, and the consumers of this shard.
  auto needed = options.checkpoints_from
                    ? consumers_in_shard(plan.consumers, plan.cases, options.shard)
                    : plan.producers;
  provision_envs(specs, needed, request.env_dir, runner, log, plan);

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
  std::tie(result.header, result.records) = read_results(result.results).value_or_throw();
  return result;
}

} // namespace loadmatrix
