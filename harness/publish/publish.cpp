#include "publish/publish.h"

#include "records/result_store.h"
#include "reports/report_writer.h"

#include <fmt/core.h>
#include <ostream>

namespace loadmatrix {

ExitStatus publish(Json header, std::vector<Record> records, const std::filesystem::path& out_dir,
                   const PublishOptions& options, std::ostream& out, std::ostream& err) {
  ResultsModel model =
      build_results_model(std::move(header), std::move(records), options.extra_pairs);
  if (!options.baseline.empty()) {
    auto old = read_results(options.baseline).value_or_throw();
    attach_baseline(model, options.baseline.string(), std::move(old.second));
  }
  write_reports(model, out_dir, options.report_assets).value_or_throw();
  const Palette& paint = options.palette;
  for (const auto& change : model.changes) {
    size_t regressions = change.regressions.size();
    out << fmt::format("{} ({}) -> {} ({}): {}, {} fixes, {} still failing\n",
                       paint.paint(change.from.name, Tone::bold), change.from.torch,
                       paint.paint(change.to.name, Tone::bold), change.to.torch,
                       paint.paint(fmt::format("{} regressions", regressions),
                                   regressions > 0 ? Tone::bad : Tone::good),
                       change.fixes.size(), change.still_failing.size());
  }
  if (model.diff) {
    out << fmt::format("against {}: {} new failures, {} fixed, {} persisting, {} changed "
                       "messages, {} missing\n",
                       model.diff->baseline_path, model.diff->new_failures.size(),
                       model.diff->fixed.size(), model.diff->persisting.size(),
                       model.diff->changed_messages.size(), model.diff->missing.size());
  }
  out << "reports: " << (out_dir / "report.html").string() << ", summary.md, junit.xml\n";
  PolicyVerdict verdict = evaluate_policy(model, options.fail_on);
  if (verdict.failed) {
    err << "loadmatrix: failing (--fail-on " << fail_on_id(options.fail_on)
        << "): " << verdict.reason << "\n";
    return ExitStatus::failing;
  }
  return ExitStatus::ok;
}

} // namespace loadmatrix
