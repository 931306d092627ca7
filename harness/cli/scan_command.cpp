// loadmatrix scan PATH...: a maintainer's own checkpoints, predicted statically for every env
// and (where the envs exist) loaded in each to check the prediction and prove the fix.
#include "cli/cli.h"
#include "cli/progress_meter.h"
#include "envs/resources.h"
#include "publish/publish.h"
#include "scan/scan_job.h"
#include "scan/scan_sarif.h"
#include "scan/scan_table.h"
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
  job.env_dir = EnvCache::resolve_dir(options.env_dir);
  job.envs = args.envs;
  job.provisioning =
      args.provision ? EnvProvisioning::kBuildMissing : EnvProvisioning::kUseExisting;
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

// 3 when nothing was scanned, 1 when a file breaks, is dangerous or unreadable, else 0.
int scan_exit_status(const ScanResult& result, const ScanArgs& args) {
  if (result.files.empty()) {
    // Nothing scanned is not a clean scan: a CI job pointed at the wrong directory must fail.
    std::cerr << "loadmatrix: no files found under " << join(args.paths, ", ") << "\n";
    return kExitNothingScanned;
  }
  for (const auto& file : result.files) {
    if (is_finding(file.verdict())) {
      return kExitRegressions;
    }
  }
  return kExitOk;
}

int scan_from_flags(GlobalOptions& options, const ScanArgs& args) {
  DocumentTargets targets = require_document_targets(args.json, args.sarif);
  const std::optional<OutputTarget>& json_target = targets.json;
  const std::optional<OutputTarget>& sarif_target = targets.sarif;
  if (!args.out.empty()) {
    require_output_dir(args.out);
  }
  // With a document on stdout, the human-readable lines go to stderr.
  std::ostream& out = targets.to_stdout ? std::cerr : std::cout;
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
  ScanJobResult done = scan_job(std::move(request), system_runner(),
                                [&](const std::string& line) { meter.stage(line); });
  meter.finish();
  ScanResult& result = done.result;
  const std::vector<std::string>& missing = done.missing;
  // Printing scan.json costs several times the static pass, so it is printed only when written.
  std::string document;
  if (!args.json.empty() || !args.out.empty()) {
    document = result.to_json_text({{"missing_envs", missing}}, args.jobs);
  }
  if (json_target) {
    write_output(*json_target, document).value_or_throw();
  }
  std::string sarif = sarif_target || !args.out.empty()
                          ? dump_json(scan_sarif(result, std::filesystem::current_path(),
                                                 sarif_information_uri(resources().home)),
                                      1) +
                                "\n"
                          : std::string();
  if (sarif_target) {
    write_output(*sarif_target, sarif).value_or_throw();
  }
  int out_fd = targets.to_stdout ? 2 : 1;
  out << render_scan_table(result, done.envs, options.width_for(out_fd),
                           options.palette_for(out_fd));
  if (!args.out.empty()) {
    write_output_file(out_dir / "scan.json", document).value_or_throw();
    write_output_file(out_dir / "scan.sarif", sarif).value_or_throw();
    auto [header, records] = write_scan_results(result, out_dir);
    // A scan's exit status is its files' verdicts (below), not a --fail-on policy.
    PublishOptions publishing;
    publishing.fail_on = FailOn::none;
    publishing.palette = options.palette_for(out_fd);
    publish(std::move(header), std::move(records), out_dir, publishing, out, std::cerr);
  }
  if (result.verified) {
    ScanResult::Agreement counts = result.agreement();
    out << fmt::format("prediction vs observed: {} agree, {} disagree\n", counts.agree,
                       counts.disagree);
  }
  int exit_code = scan_exit_status(result, args);
  // The scan is done and the process is about to exit. Its results and the envs' metadata are
  // many small allocations, and freeing them one at a time took a fifth of the wall time of a
  // 5000-file scan; the kernel takes the heap back whole. Their destructors only free memory.
  // Held from a static pointer, never destroyed: still reachable, so no leak to a leak checker.
  static auto* kept_until_exit = new std::vector<std::unique_ptr<ScanJobResult>>();
  kept_until_exit->push_back(std::make_unique<ScanJobResult>(std::move(done)));
  return exit_code;
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
  scan->callback([&options, args] { options.exit_code = scan_from_flags(options, *args); });
}

} // namespace loadmatrix
