#include "reports/markdown_summary.h"
#include "testing/synthetic_results.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

TEST(MarkdownSummaryTest, HeadlinesEachVersionChangeWithCausesAndFixes) {
  auto records = test_support::synthetic_records(6, [](size_t i) { return i % 3 == 0; });
  ResultsModel model = build_results_model(test_support::synthetic_header(), records, {});
  std::string summary = render_markdown_summary(model);
  EXPECT_NE(summary.find("## old (torch 1.13.0a0, Python 3.11) → mid (torch 2.6.0+debian, "
                         "Python 3.13)\n\n**6 regressions**, 0 fixes, 6 still failing"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("- `pkg.Class0` blocks 3 checkpoints on 2.6.0+debian (3 cells) — fix "
                         "(verified): allowlist `pkg.Class0`"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("## mid (torch 2.6.0+debian, Python 3.13) → new (torch 2.14.1, Python "
                         "3.14)\n\n**0 regressions**"),
            std::string::npos);
}

TEST(MarkdownSummaryTest, StaysUnderOneMegabyteForAHugeRun) {
  // 3000 files, every other one blocked, with distinct causes and a baseline full of news.
  auto records = test_support::synthetic_records(3000, [](size_t i) { return i % 2 == 0; });
  for (size_t i = 0; i < records.size(); i += 2) {
    if (records[i].outcome == Outcome::blocked) {
      records[i].blocked_globals = {"pkg.C" + std::to_string(i)};
    }
  }
  ResultsModel model = build_results_model(test_support::synthetic_header(), records, {});
  attach_baseline(model, "none.json", {});
  std::string summary = render_markdown_summary(model);
  EXPECT_LT(summary.size(), 1024u * 1024u);
  EXPECT_NE(summary.find("more causes (see report.html)"), std::string::npos);
  EXPECT_NE(summary.find("new failures"), std::string::npos);
}
