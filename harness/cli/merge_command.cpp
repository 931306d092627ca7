// loadmatrix merge A.json B.json ... --out DIR: one result, and its reports, from shards.
#include "cli/cli.h"
#include "cli/report_options.h"
#include "publish/results_jobs.h"

#include <iostream>
#include <memory>

namespace loadmatrix {

namespace {

struct MergeArgs {
  std::vector<std::string> inputs;
  std::string out;
  bool allow_missing = false;
  ReportOptions report;
};

ExitStatus merge(const GlobalOptions& options, const MergeArgs& args) {
  MergeRequest request;
  request.inputs.assign(args.inputs.begin(), args.inputs.end());
  request.out_dir = args.out;
  require_output_dir(request.out_dir);
  request.allow_missing = args.allow_missing;
  request.publishing = args.report.publish_options();
  request.publishing.palette = options.palette_for(1);
  JobOutput output(std::cout, std::cerr);
  return merge_results_job(request, output);
}

} // namespace

void add_merge_command(CLI::App& app, GlobalOptions& options) {
  auto args = std::make_shared<MergeArgs>();
  CLI::App* command = app.add_subcommand(
      "merge", "Combine shards' results.json into one, with its reports; names missing cells");
  command->add_option("inputs", args->inputs, "results.json of each shard")->required();
  command->add_option("--out", args->out, "Output directory")->required();
  command->add_flag("--allow-missing", args->allow_missing,
                    "Exit by the policy even when cells are missing");
  args->report.add_to(*command);
  command->callback([&options, args] { options.status = merge(options, *args); });
}

} // namespace loadmatrix
