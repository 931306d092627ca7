// Report cost against the number of cells: analysis plus the three renderers must grow
// linearly (a 10x larger run must not cost 100x).
#include "analysis/results_model.h"
#include "cli/resources.h"
#include "reports/html_report.h"
#include "reports/junit_report.h"
#include "reports/markdown_summary.h"
#include "testing/synthetic_results.h"

#include <benchmark/benchmark.h>

using namespace loadmatrix;

namespace {

void BM_AnalyseAndRenderReports(benchmark::State& state) {
  size_t cases = static_cast<size_t>(state.range(0));
  auto records = test_support::synthetic_records(cases, [](size_t i) { return i % 3 == 0; });
  size_t cells = records.size();
  for (auto _ : state) {
    ResultsModel model = build_results_model(test_support::synthetic_header(), records, {});
    benchmark::DoNotOptimize(render_html_report(model, resources().report_assets));
    benchmark::DoNotOptimize(render_markdown_summary(model));
    benchmark::DoNotOptimize(render_junit(model));
  }
  state.counters["cells"] = static_cast<double>(cells);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * cells));
}
BENCHMARK(BM_AnalyseAndRenderReports)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond);

} // namespace
