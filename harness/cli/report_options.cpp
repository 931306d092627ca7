#include "cli/report_options.h"

#include "cli/cli.h"
#include "records/result_store.h"
#include "reports/report_writer.h"

#include <fmt/core.h>
#include <iostream>

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

int ReportOptions::analyse_and_report(Json header, std::vector<Record> records,
                                      const std::filesystem::path& out_dir) const {
  auto policy = parse_fail_on(fail_on);
  if (!policy) {
    throw FatalError(
        fmt::format("--fail-on: unknown policy '{}' (known: {})", fail_on, kFailOnIds));
  }
  if (from.size() != to.size()) {
    throw FatalError("--from and --to must be given the same number of times");
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 0; i < from.size(); ++i) {
    pairs.emplace_back(from[i], to[i]);
  }
  ResultsModel model = build_results_model(std::move(header), std::move(records), pairs);
  if (!baseline.empty()) {
    auto old = read_results(baseline).value_or_throw();
    attach_baseline(model, baseline, std::move(old.second));
  }
  write_reports(model, out_dir).value_or_throw();
  for (const auto& change : model.changes) {
    std::cout << fmt::format("{} ({}) -> {} ({}): {} regressions, {} fixes, {} still failing\n",
                             change.from.name, change.from.torch, change.to.name, change.to.torch,
                             change.regressions.size(), change.fixes.size(),
                             change.still_failing.size());
  }
  if (model.diff) {
    std::cout << fmt::format("against {}: {} new failures, {} fixed, {} persisting, {} changed "
                             "messages, {} missing\n",
                             model.diff->baseline_path, model.diff->new_failures.size(),
                             model.diff->fixed.size(), model.diff->persisting.size(),
                             model.diff->changed_messages.size(), model.diff->missing.size());
  }
  std::cout << "reports: " << (out_dir / "report.html").string() << ", summary.md, junit.xml\n";
  PolicyVerdict verdict = evaluate_policy(model, *policy);
  if (verdict.failed) {
    std::cerr << "loadmatrix: failing (--fail-on " << fail_on << "): " << verdict.reason << "\n";
    return kExitRegressions;
  }
  return kExitOk;
}

} // namespace loadmatrix
