// loadmatrix run: flags to a RunRequest (run/run_job.h), then publish (publish/publish.h).
#include "cli/cli.h"
#include "cli/progress_meter.h"
#include "cli/report_options.h"
#include "cli/resources.h"
#include "run/run_job.h"

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

ExitStatus run_from_flags(GlobalOptions& options, const RunArgs& args) {
  require_output_dir(args.out);
  RunRequest request;
  request.matrix = options.matrix_path();
  request.env_dir = EnvCache::resolve_dir(options.env_dir);
  request.shipped = resources().shipped;
  request.envs = args.envs;
  // --cases takes directories of the user's own cases and name globs, in any mix.
  if (!args.no_builtin_cases) {
    request.case_roots.push_back(resources().cases_dir);
  }
  for (const auto& value : args.cases) {
    if (std::filesystem::is_directory(value)) {
      request.case_roots.push_back(std::filesystem::absolute(value));
    } else {
      request.case_globs.push_back(value);
    }
  }
  request.start = args.resume ? RunStart::kResume : RunStart::kFresh;
  request.shard_text = args.shard;
  RunOptions& run_options = request.options;
  run_options.out_dir = std::filesystem::absolute(args.out);
  run_options.shard = Shard::parse(args.shard);
  run_options.save_only = args.save_only;
  if (!args.checkpoints.empty()) {
    if (args.save_only) {
      throw FatalError("--checkpoints and --save-only exclude each other");
    }
    run_options.checkpoints_from = std::filesystem::absolute(args.checkpoints);
  }
  run_options.modes = parse_modes(args.modes);
  run_options.jobs = args.jobs;
  for (const auto& dir : args.python_path) {
    run_options.python_path.push_back(std::filesystem::absolute(dir));
  }
  run_options.cell_timeout = std::chrono::seconds(args.cell_timeout);
  run_options.cell_memory_bytes = static_cast<uint64_t>(args.cell_memory_gb * (1ull << 30));
  run_options.fixtures_dir = resources().cases_dir / "fixtures";
  request.publishing = args.report.publish_options();
  request.publishing.palette = options.palette_for(1);

  ProgressMeter meter(options, "run", "loads");
  run_options.progress = [&](const std::string& env, size_t done, size_t total) {
    meter.count(env, done, total);
  };
  JobOutput output(std::cout, std::cerr, [&] { meter.finish(); });
  return run_job(
             request, system_runner(), [&](const std::string& line) { meter.stage(line); }, output)
      .status;
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
  run->callback([&options, args] { options.status = run_from_flags(options, *args); });
}

} // namespace loadmatrix
