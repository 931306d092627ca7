// loadmatrix merge A.json B.json ... --out DIR: one result, and its reports, from shards.
#include "cli/cli.h"
#include "cli/report_options.h"
#include "records/merge.h"
#include "util/text.h"

#include <fmt/core.h>
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
  auto out = std::filesystem::path(args.out);
  require_output_dir(out);
  PublishOptions publishing = args.report.publish_options();
  publishing.palette = options.palette_for(1);
  MergeJobResult merged =
      merge_job(std::vector<std::filesystem::path>(args.inputs.begin(), args.inputs.end()), out);
  std::cout << fmt::format("merged {} cells from {} file(s); {} missing\n", merged.records.size(),
                           merged.inputs, merged.missing.size());
  ExitStatus status = publish(std::move(merged.header), std::move(merged.records), out, publishing,
                              std::cout, std::cerr);
  if (!merged.missing.empty() && !args.allow_missing) {
    std::vector<std::string> first(
        merged.missing.begin(),
        merged.missing.begin() + static_cast<long>(std::min<size_t>(5, merged.missing.size())));
    throw FatalError(fmt::format("merge: {} cell(s) missing (a shard failed or was not given), "
                                 "e.g. {}; use --allow-missing to accept",
                                 merged.missing.size(), join(first, ", ")));
  }
  return status;
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
