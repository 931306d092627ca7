// loadmatrix run: the main job over a matrix's envs, the case corpus and the loader modes.
#include "cli/cli.h"
#include "cli/report_options.h"
#include "envs/provisioner.h"
#include "matrix/matrix.h"
#include "run/matrix_run.h"
#include "util/resources.h"

#include <fmt/core.h>
#include <iostream>
#include <memory>

namespace loadmatrix {

namespace {

struct RunArgs {
  std::vector<std::string> envs;
  std::vector<std::string> cases;
  std::vector<std::string> modes;
  std::vector<std::string> python_path;
  std::string out = "out";
  size_t jobs = 0;
  int cell_timeout = 60;
  double cell_memory_gb = 8;
  bool resume = false;
  bool no_builtin_cases = false;
  std::string shard = "1/1";
  bool save_only = false;
  std::string checkpoints;
  ReportOptions report;
};

std::vector<LoaderMode> parse_modes(const std::vector<std::string>& ids) {
  std::vector<LoaderMode> modes;
  for (const auto& id : ids) {
    auto mode = parse_loader_mode(id);
    if (!mode) {
      throw FatalError(
          fmt::format("--modes: unknown mode '{}' (known: {})", id, loader_mode_ids()));
    }
    modes.push_back(*mode);
  }
  return modes;
}

int run_job(GlobalOptions& options, const RunArgs& args) {
  require_output_dir(args.out);
  Matrix matrix = load_matrix(options.matrix_path());
  auto specs = matrix.select_envs(args.envs);
  auto modes = parse_modes(args.modes);

  // --cases takes directories of the user's own cases and name globs, in any mix.
  std::vector<std::filesystem::path> roots;
  if (!args.no_builtin_cases) {
    roots.push_back(resources().cases_dir);
  }
  std::vector<std::string> globs;
  for (const auto& value : args.cases) {
    if (std::filesystem::is_directory(value)) {
      roots.push_back(std::filesystem::absolute(value));
    } else {
      globs.push_back(value);
    }
  }
  RunPlan plan;
  plan.cases = discover_cases(roots, globs);
  if (plan.cases.empty()) {
    throw FatalError("--cases: no case matches");
  }
  std::vector<std::filesystem::path> python_path;
  for (const auto& dir : args.python_path) {
    if (!std::filesystem::is_directory(dir)) {
      throw FatalError(fmt::format("--python-path {}: not a directory", dir));
    }
    python_path.push_back(std::filesystem::absolute(dir));
  }

  RunOptions run_options;
  run_options.out_dir = std::filesystem::absolute(args.out);
  run_options.shard = Shard::parse(args.shard);
  run_options.save_only = args.save_only;
  for (const auto& spec : specs) {
    plan.producers.push_back(spec.name);
    plan.consumers.push_back(spec.name);
  }
  if (!args.checkpoints.empty()) {
    if (args.save_only) {
      throw FatalError("--checkpoints and --save-only exclude each other");
    }
    run_options.checkpoints_from = std::filesystem::absolute(args.checkpoints);
    for (const auto& producer : plan.producers) {
      auto described = *run_options.checkpoints_from / producer / "env.json";
      if (!std::filesystem::exists(described)) {
        throw FatalError(fmt::format("--checkpoints {}: no checkpoints of producer '{}' ({} is "
                                     "missing; run --save-only --envs {} first)",
                                     args.checkpoints, producer, described.string(), producer));
      }
    }
  }
  // Envs that must exist here: every producer that saves, and the consumers of this shard.
  auto needed = run_options.checkpoints_from
                    ? consumers_in_shard(plan.consumers, plan.cases, run_options.shard)
                    : plan.producers;

  EnvCache cache(EnvCache::resolve_dir(options.env_dir));
  auto log = [&](const std::string& line) { log_progress(options, line); };
  Provisioner provisioner(cache, system_runner(), log);
  for (const auto& spec : specs) {
    if (std::find(needed.begin(), needed.end(), spec.name) == needed.end()) {
      continue;
    }
    // Envs are provisioned on first use and reused afterwards.
    auto outcome = provisioner.provision(spec, {}).value_or_throw();
    plan.envs.push_back(outcome.environment);
    auto probe = ensure_cpp_probe(outcome.environment, cache, system_runner(), log);
    if (probe) {
      plan.cpp_probes[spec.name] = *probe;
    } else {
      log(fmt::format("env {}: C++ modes will be unsupported: {}", spec.name,
                      probe.error().message));
    }
  }

  run_options.modes = modes;
  run_options.jobs = args.jobs;
  run_options.python_path = python_path;
  run_options.cell_timeout = std::chrono::seconds(args.cell_timeout);
  run_options.cell_memory_bytes = static_cast<uint64_t>(args.cell_memory_gb * (1ull << 30));
  if (!args.resume && !run_options.checkpoints_from &&
      std::filesystem::exists(run_options.out_dir / "checkpoints")) {
    // A fresh run must not mix in checkpoints an earlier run saved.
    std::filesystem::remove_all(run_options.out_dir / "checkpoints");
    std::filesystem::remove_all(run_options.out_dir / "scratch");
  }
  if (args.save_only) {
    run_matrix(plan, run_options,
               *ResultStore::open(run_options.out_dir, false, Json::object()).value_or_throw(),
               system_runner(), log);
    std::cout << "checkpoints: " << checkpoints_root(run_options).string() << "\n";
    return kExitOk;
  }
  Json header = results_header(plan, modes, checkpoints_root(run_options));
  header["run"] = {
      {"started", utc_now_iso8601()}, {"matrix", options.matrix_path()}, {"shard", args.shard}};
  auto store = ResultStore::open(run_options.out_dir, args.resume, header).value_or_throw();
  log(fmt::format("run: {} env(s) x {} case(s) into {}{}", plan.envs.size(), plan.cases.size(),
                  run_options.out_dir.string(),
                  args.resume ? fmt::format(" (resuming: {} cells kept)", store->resumed()) : ""));

  RunReport report;
  try {
    report = run_matrix(plan, run_options, *store, system_runner(), log);
  } catch (const std::exception&) {
    // Even a fault of the driver's own keeps every cell recorded so far in results.json.
    (void)store->write_results({{"run",
                                 {{"started", header["run"]["started"]},
                                  {"matrix", options.matrix_path()},
                                  {"shard", args.shard},
                                  {"interrupted", true}}}});
    throw;
  }
  store
      ->write_results({{"run",
                        {{"started", header["run"]["started"]},
                         {"finished", utc_now_iso8601()},
                         {"matrix", options.matrix_path()},
                         {"shard", args.shard},
                         {"wall_seconds", report.wall_seconds},
                         {"cells", store->size()}}}})
      .value_or_throw();

  std::string counts;
  for (const auto& info : outcomes()) {
    if (auto it = report.counts.find(info.outcome); it != report.counts.end()) {
      counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", it->second, info.id);
    }
  }
  std::cout << fmt::format("{} cells ({} run now, {} resumed) in {:.1f} s: {}\n", store->size(),
                           report.cells, report.resumed, report.wall_seconds,
                           counts.empty() ? "nothing new" : counts);
  std::cout << "results: " << (run_options.out_dir / "results.json").string() << "\n";
  auto [final_header, records] =
      read_results(run_options.out_dir / "results.json").value_or_throw();
  return args.report.analyse_and_report(final_header, records, run_options.out_dir);
}

} // namespace

void add_run_command(CLI::App& app, GlobalOptions& options) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* run = app.add_subcommand(
      "run", "Save every case in every env, load it in every env under every loader mode");
  run->add_option("--envs", args->envs, "Envs to use (default: all in the matrix)")->delimiter(',');
  run->add_option("--cases", args->cases,
                  "A directory of your own cases (recipes/, scenarios/) to add, or a glob "
                  "selecting cases by name; repeatable")
      ->delimiter(',');
  run->add_option("--modes", args->modes, "Loader modes (default: all): " + loader_mode_ids())
      ->delimiter(',');
  run->add_option("--python-path", args->python_path,
                  "A directory your cases import from (mounted read-only); repeatable");
  run->add_option("--out", args->out, "Output directory")->capture_default_str();
  run->add_option("--jobs", args->jobs, "Envs worked on at once (default: one per core)");
  run->add_option("--cell-memory", args->cell_memory_gb,
                  "GiB of address space one cell's process may use (0: no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  run->add_option("--cell-timeout", args->cell_timeout, "Seconds one load may take")
      ->capture_default_str();
  run->add_flag("--resume", args->resume, "Keep the cells an interrupted run recorded");
  run->add_option("--shard", args->shard,
                  "Run part I of N of the load work (cells partitioned by consumer env first)")
      ->capture_default_str();
  run->add_flag("--save-only", args->save_only,
                "Only save the checkpoints (and env.json) of --envs, for later sharded loads");
  run->add_option("--checkpoints", args->checkpoints,
                  "Load producers' checkpoints from this directory (of --save-only runs) instead "
                  "of saving them");
  run->add_flag("--no-builtin-cases", args->no_builtin_cases,
                "Only the cases given with --cases DIR");
  args->report.add_to(*run);
  run->callback([&options, args] { options.exit_code = run_job(options, *args); });
}

} // namespace loadmatrix
