#include "analysis/fail_policy.h"
#include "testing/synthetic_results.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

TEST(FailPolicyTest, EachPolicyFailsOnWhatItNames) {
  auto records = test_support::synthetic_records(3, [](size_t i) { return i == 0; });
  ResultsModel model = build_results_model(test_support::synthetic_header(), records, {});
  EXPECT_FALSE(evaluate_policy(model, FailOn::none).failed);
  EXPECT_FALSE(evaluate_policy(model, FailOn::new_failures).failed) << "no baseline, no news";
  PolicyVerdict regressions = evaluate_policy(model, FailOn::regressions);
  EXPECT_TRUE(regressions.failed);
  EXPECT_EQ(regressions.reason, "3 regression(s) from 1.13.0a0 to 2.6.0+debian");
  EXPECT_TRUE(evaluate_policy(model, FailOn::any_failure).failed);

  attach_baseline(model, "same.json", records);
  EXPECT_FALSE(evaluate_policy(model, FailOn::new_failures).failed);
  auto worse = test_support::synthetic_records(3, [](size_t i) { return i <= 1; });
  ResultsModel newer = build_results_model(test_support::synthetic_header(), worse, {});
  attach_baseline(newer, "old.json", records);
  PolicyVerdict verdict = evaluate_policy(newer, FailOn::new_failures);
  EXPECT_TRUE(verdict.failed);
  // Case 1 newly blocked: default on mid and new (2 x 3 producers), weights_only everywhere (9).
  EXPECT_EQ(verdict.reason, "15 new failure(s) against the baseline old.json");
  EXPECT_FALSE(evaluate_policy(newer, FailOn::none).failed);
  EXPECT_EQ(parse_fail_on("new"), FailOn::new_failures);
  EXPECT_FALSE(parse_fail_on("regression"));
}
