#include "cli/report_options.h"

#include "cli/resources.h"
#include "util/error.h"

#include <fmt/core.h>

namespace loadmatrix {

void ReportOptions::add_to(CLI::App& command) {
  command.add_option("--baseline", baseline,
                     "An earlier results.json: report new failures, fixes, changed messages");
  command
      .add_option("--fail-on", fail_on,
                  std::string("When to exit 1: ") + kFailOnIds +
                      " (new: new failures against --baseline)")
      ->capture_default_str();
  command.add_option("--from", from, "Also compare this env ... (pairs with --to; repeatable)");
  command.add_option("--to", to, "... with this env");
}

PublishOptions ReportOptions::publish_options() const {
  auto policy = parse_fail_on(fail_on);
  if (!policy) {
    throw FatalError(
        fmt::format("--fail-on: unknown policy '{}' (known: {})", fail_on, kFailOnIds));
  }
  if (from.size() != to.size()) {
    throw FatalError("--from and --to must be given the same number of times");
  }
  PublishOptions options;
  options.baseline = baseline;
  options.report_assets = resources().report_assets;
  options.fail_on = *policy;
  for (size_t i = 0; i < from.size(); ++i) {
    options.extra_pairs.emplace_back(from[i], to[i]);
  }
  return options;
}

} // namespace loadmatrix
