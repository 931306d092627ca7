// loadmatrix scan PATH...: a maintainer's own checkpoints, predicted statically for every env
// and (where the envs exist) loaded in each to check the prediction and prove the fix.
#include "cli/cli.h"
#include "cli/progress_meter.h"
#include "cli/resources.h"
#include "scan/scan_job.h"
#include "util/text.h"

#include <fmt/core.h>
#include <iostream>
#include <memory>
#include <optional>
#include <unistd.h>

namespace loadmatrix {

namespace {

struct ScanArgs {
  std::vector<std::string> paths;
  std::vector<std::string> envs;
  std::vector<std::string> python_path;
  FactsOptions facts;
  bool trust = false;
  bool static_only = false;
  bool provision = false;
  std::string json;
  std::string sarif;
  std::string out;
  size_t jobs = 0;
  int load_timeout = 60;
};

ScanJobRequest scan_request(const GlobalOptions& options, const ScanArgs& args,
                            const std::filesystem::path& out_dir) {
  ScanJobRequest job;
  job.matrix = options.matrix_path();
  job.envs = args.envs;
  job.preparation.env_dir = EnvCache::resolve_dir(options.env_dir);
  job.preparation.shipped = resources().shipped;
  job.preparation.provisioning =
      args.provision ? EnvProvisioning::kBuildMissing : EnvProvisioning::kUseExisting;
  apply_facts_options(args.facts, job.preparation);
  ScanRequest& request = job.scan;
  for (const auto& path : args.paths) {
    request.paths.emplace_back(path);
  }
  request.verify = !args.static_only;
  for (const auto& dir : args.python_path) {
    request.verify_options.python_path.push_back(std::filesystem::absolute(dir));
  }
  request.verify_options.trust = args.trust;
  request.static_jobs = args.jobs;
  request.verify_options.jobs = args.jobs;
  request.verify_options.load_timeout = std::chrono::seconds(args.load_timeout);
  request.verify_options.log_dir = out_dir / "logs";
  return job;
}

ExitStatus scan_from_flags(GlobalOptions& options, const ScanArgs& args) {
  DocumentTargets targets = require_document_targets(args.json, args.sarif);
  if (!args.out.empty()) {
    require_output_dir(args.out);
  }
  std::filesystem::path out_dir =
      args.out.empty()
          ? std::filesystem::temp_directory_path() / fmt::format("loadmatrix-scan-{}", ::getpid())
          : std::filesystem::absolute(args.out);
  // Without --out the workers' logs go to a scratch directory that never outlives the scan.
  struct RemoveScratch {
    std::filesystem::path dir;
    ~RemoveScratch() {
      std::error_code ec;
      if (!dir.empty()) {
        std::filesystem::remove_all(dir, ec);
      }
    }
  } scratch{args.out.empty() ? out_dir : std::filesystem::path()};

  ProgressMeter meter(options, "scan", "files loaded");
  ScanJobRequest request = scan_request(options, args, out_dir);
  request.scan.verify_options.progress = [&](const std::string& env, size_t loaded, size_t total) {
    meter.count(env, loaded, total);
  };
  request.outputs =
      document_outputs(options, targets, args.out.empty() ? std::nullopt : std::optional(out_dir));
  // With a document on stdout, the human-readable lines go to stderr.
  JobOutput output(targets.to_stdout ? std::cerr : std::cout, std::cerr, [&] { meter.finish(); });
  auto done = std::make_unique<ScanJobResult>(scan_job(
      std::move(request), system_runner(), [&](const std::string& line) { meter.stage(line); },
      output));
  ExitStatus status = done->status;
  // The scan is done and the process is about to exit. Its results and the envs' metadata are
  // many small allocations, and freeing them one at a time took a large part of a big scan's
  // wall time (bench/README.md); the kernel takes the heap back whole. Their destructors only free
  // memory. Held from a static pointer, never destroyed: still reachable, so no leak to a leak
  // checker.
  static auto* kept_until_exit = new std::vector<std::unique_ptr<ScanJobResult>>();
  kept_until_exit->push_back(std::move(done));
  return status;
}

} // namespace

void add_scan_command(CLI::App& app, GlobalOptions& options) {
  auto args = std::make_shared<ScanArgs>();
  CLI::App* scan = app.add_subcommand(
      "scan", "Which of these checkpoint files load on which torch version, why, and the fix");
  scan->add_option("paths", args->paths, "Checkpoint files and directories (walked)")->required();
  // One value per occurrence: the paths after an option are not taken as more of its values.
  scan->add_option("--envs", args->envs, "Only these envs of the matrix")
      ->delimiter(',')
      ->allow_extra_args(false);
  scan->add_option("--python-path", args->python_path,
                   "A directory the files' own classes import from (repeatable)")
      ->allow_extra_args(false);
  scan->add_flag("--trust", args->trust,
                 "Also run bare loads that execute the pickle (torch 1.x), inside the sandbox");
  scan->add_flag("--static-only", args->static_only, "Predict only; load nothing");
  scan->add_flag("--provision", args->provision, "Build envs that do not exist yet");
  add_facts_options(*scan, args->facts);
  scan->add_option("--json", args->json,
                   "Write the scan (loadmatrix.scan/1) to this file (-: standard output)");
  scan->add_option("--sarif", args->sarif,
                   "Write the findings as SARIF 2.1.0, for code scanning (-: standard output)");
  scan->add_option("--out", args->out,
                   "Write scan.json, scan.sarif, results.json, report.html, summary.md, "
                   "junit.xml here");
  scan->add_option("--jobs", args->jobs,
                   "Files read at once, then envs loaded at once (default: one per core)");
  scan->add_option("--load-timeout", args->load_timeout, "Seconds per load")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  scan->callback([&options, args] { options.status = scan_from_flags(options, *args); });
}

} // namespace loadmatrix
