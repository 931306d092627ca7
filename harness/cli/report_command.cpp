// loadmatrix report RESULTS --out DIR and loadmatrix diff OLD NEW: analysis and reports from
// results.json files, without running anything.
#include "cli/cli.h"
#include "cli/report_options.h"
#include "publish/results_jobs.h"

#include <iostream>
#include <memory>

namespace loadmatrix {

namespace {

struct ReportArgs {
  std::string results;
  std::string old_results;
  std::string out;
  ReportOptions report;
};

// Reports for `results` into `out` (default: beside it); the exit status the policy gives.
ExitStatus report_on(const GlobalOptions& options, const std::string& results,
                     const std::string& out, const ReportOptions& report) {
  ReportRequest request;
  request.results = results;
  request.out_dir =
      out.empty() ? std::filesystem::path(results).parent_path() : std::filesystem::path(out);
  require_output_dir(request.out_dir.empty() ? "." : request.out_dir);
  request.publishing = report.publish_options();
  request.publishing.palette = options.palette_for(1);
  JobOutput output(std::cout, std::cerr);
  return report_job(request, output);
}

} // namespace

void add_report_commands(CLI::App& app, GlobalOptions& options) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* report = app.add_subcommand(
      "report", "Write report.html, summary.md and junit.xml for a results.json");
  report->add_option("results", args->results, "results.json of a run")->required();
  report->add_option("--out", args->out, "Output directory (default: beside RESULTS)");
  args->report.add_to(*report);
  report->callback([&options, args] {
    options.status = report_on(options, args->results, args->out, args->report);
  });

  CLI::App* diff = app.add_subcommand(
      "diff", "Compare two runs: new failures, fixed, persisting, changed messages");
  diff->add_option("old", args->old_results, "The baseline results.json")->required();
  diff->add_option("new", args->results, "The newer results.json")->required();
  diff->add_option("--out", args->out, "Where to write the reports (default: beside NEW)");
  diff->callback([&options, args] {
    ReportOptions against_old = args->report;
    against_old.baseline = args->old_results;
    options.status = report_on(options, args->results, args->out, against_old);
  });
  diff->add_option("--fail-on", args->report.fail_on, std::string("When to exit 1: ") + kFailOnIds)
      ->capture_default_str();
}

} // namespace loadmatrix
