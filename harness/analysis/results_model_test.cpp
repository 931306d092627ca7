#include "analysis/results_model.h"
#include "testing/synthetic_results.h"
#include "util/version_key.h"

#include <gtest/gtest.h>

using namespace loadmatrix;
using test_support::synthetic_header;
using test_support::synthetic_record;
using test_support::synthetic_records;

TEST(ResultsModelTest, OrdersEnvsByTorchVersionNotByFileOrder) {
  EXPECT_LT(version_key("1.13.0a0"), version_key("2.6.0+debian"));
  EXPECT_LT(version_key("2.6.0+debian"), version_key("2.14.1+debian"));
  ResultsModel model = build_results_model(synthetic_header(), {}, {});
  ASSERT_EQ(model.envs.size(), 3u);
  EXPECT_EQ(model.envs[0].name, "old");
  EXPECT_EQ(model.envs[1].name, "mid");
  EXPECT_EQ(model.envs[2].name, "new");
  ASSERT_EQ(model.changes.size(), 2u);
  EXPECT_EQ(model.changes[0].from.name, "old");
  EXPECT_EQ(model.changes[0].to.name, "mid");
}

TEST(ResultsModelTest, GroupsRegressionsByCauseWithTheVerifiedAllowlist) {
  // Cases 0 and 3 hold pkg.Class0 / pkg.Class3; every third case is blocked from mid on.
  ResultsModel model = build_results_model(
      synthetic_header(), synthetic_records(6, [](size_t i) { return i % 3 == 0; }), {});
  const VersionChange& flip = model.changes[0];
  // default mode: passed on old, blocked on mid, for 2 files x 3 producers.
  EXPECT_EQ(flip.regressions.size(), 6u);
  EXPECT_EQ(flip.regressions_by_mode_and_producer.at("default").at("old"), 2u);
  ASSERT_EQ(flip.causes.size(), 2u);
  const CauseGroup& group = flip.causes[0];
  EXPECT_EQ(group.cause, "pkg.Class0");
  EXPECT_EQ(group.checkpoints, 3u);
  EXPECT_EQ(group.fix.kind, SuggestedFix::Kind::allowlist);
  EXPECT_TRUE(group.fix.verified);
  EXPECT_EQ(group.fix.globals, std::vector<std::string>{"pkg.Class0"});
  EXPECT_NE(group.fix.snippet.find("from pkg import Class0"), std::string::npos);
  EXPECT_NE(group.fix.snippet.find("torch.serialization.add_safe_globals([Class0])"),
            std::string::npos);
  // weights_only was already blocked on old: still failing, not a regression.
  EXPECT_EQ(flip.still_failing.size(), 2u * 3);
  // mid -> new changes nothing.
  EXPECT_TRUE(model.changes[1].regressions.empty());
  EXPECT_TRUE(model.changes[1].fixes.empty());
}

TEST(ResultsModelTest, WithoutASafeAllowlistTheFixIsWeightsOnlyFalseWithItsWarning) {
  std::vector<Record> records = {
      synthetic_record("payload", "old", "old", "default", Outcome::pass),
      synthetic_record("payload", "old", "mid", "default", Outcome::blocked, {"posix.system"}),
      synthetic_record("payload", "old", "mid", "allowlist", Outcome::blocked, {"posix.system"}),
      synthetic_record("payload", "old", "mid", "unsafe", Outcome::pass),
  };
  records[2].detail = "no safe allowlist: posix.system is in a module torch blocklists";
  ResultsModel model = build_results_model(synthetic_header(), records, {});
  const CauseGroup& group = model.changes[0].causes.at(0);
  EXPECT_EQ(group.fix.kind, SuggestedFix::Kind::weights_only_false);
  EXPECT_NE(group.fix.note.find("Only for files you trust"), std::string::npos);
  EXPECT_NE(group.fix.note.find("posix.system is in a module torch blocklists"), std::string::npos);
}

TEST(ResultsModelTest, ExtraPairsAndUnknownEnvs) {
  ResultsModel model = build_results_model(
      synthetic_header(), synthetic_records(3, [](size_t) { return true; }), {{"old", "new"}});
  ASSERT_EQ(model.changes.size(), 3u);
  EXPECT_EQ(model.changes[2].from.name, "old");
  EXPECT_EQ(model.changes[2].to.name, "new");
  EXPECT_THROW(build_results_model(synthetic_header(), {}, {{"old", "zeta"}}), FatalError);
}

TEST(ResultsModelTest, BaselineDiffSortsEveryCellIntoOneBucket) {
  std::vector<Record> before = {
      synthetic_record("a", "old", "mid", "default", Outcome::pass),
      synthetic_record("b", "old", "mid", "default", Outcome::blocked, {"x.Y"}),
      synthetic_record("c", "old", "mid", "default", Outcome::blocked, {"x.Y"}),
      synthetic_record("d", "old", "mid", "default", Outcome::error),
      synthetic_record("gone", "old", "mid", "default", Outcome::pass),
  };
  std::vector<Record> after = {
      synthetic_record("a", "old", "mid", "default", Outcome::blocked, {"x.Z"}),
      synthetic_record("b", "old", "mid", "default", Outcome::pass),
      synthetic_record("c", "old", "mid", "default", Outcome::blocked, {"x.Y"}),
      synthetic_record("d", "old", "mid", "default", Outcome::error),
      synthetic_record("new", "old", "mid", "default", Outcome::crash),
  };
  after[3].message = "a new message";
  ResultsModel model = build_results_model(synthetic_header(), after, {});
  attach_baseline(model, "old.json", before);
  const BaselineDiff& diff = *model.diff;
  ASSERT_EQ(diff.new_failures.size(), 2u); // a (was passing) and new (absent before)
  EXPECT_EQ(diff.new_failures[0]->case_name, "a");
  EXPECT_EQ(diff.new_failures[1]->case_name, "new");
  ASSERT_EQ(diff.fixed.size(), 1u);
  EXPECT_EQ(diff.fixed[0]->case_name, "b");
  EXPECT_EQ(diff.persisting.size(), 2u);
  ASSERT_EQ(diff.changed_messages.size(), 1u);
  EXPECT_EQ(diff.changed_messages[0].first->case_name, "d");
  EXPECT_EQ(diff.missing, std::vector<std::string>{"gone|old|mid|default"});
}

// The portable snippet of a group: verified on the envs whose checks loaded every file; files
// checked with different lists (other refusals, or merged shards) are shown with their union.
TEST(ResultsModelTest, APortableFixIsVerifiedWhereEveryFileLoadedAndListsAreUnited) {
  auto records = synthetic_records(1, [](size_t) { return true; });
  for (auto& record : records) {
    if (record.mode == LoaderMode::allowlist) {
      record.portable = PortableCheck{{"pkg.Class0"}, true, ""};
      if (record.consumer == "new" && record.producer == "mid") {
        record.portable->globals = {"pkg.Class0", "pkg.Other"};
      }
      if (record.consumer == "old" && record.producer == "new") {
        record.portable->verified = false; // one file refused on old: not verified there
        record.portable->detail = "UnpicklingError: ...";
      }
    }
  }
  ResultsModel model = build_results_model(synthetic_header(), std::move(records), {});
  const CauseGroup& group = model.changes[0].causes.at(0);
  EXPECT_EQ(group.portable.globals, (std::vector<std::string>{"pkg.Class0", "pkg.Other"}));
  EXPECT_TRUE(group.portable.merged_lists);
  EXPECT_NE(group.portable.snippet.find("\"pkg.Other\""), std::string::npos);
  EXPECT_FALSE(group.portable.everywhere());
  EXPECT_EQ(group.portable.verified_envs, (std::vector<std::string>{"mid", "new"}));
  ASSERT_EQ(group.portable.failures.size(), 1u);
  EXPECT_EQ(group.portable.failures[0].first, "old");
}

TEST(ResultsModelTest, WhatDiffersNamesTorchThenTheLibrariesAndCountsCudaWheels) {
  EnvInfo old_env{"lightning-2.5",
                  "2.6.0+cu124",
                  "3.11.2",
                  "2.3.5",
                  "pip",
                  std::nullopt,
                  {{"torch", "2.6.0+cu124"},
                   {"lightning", "2.5.6"},
                   {"omegaconf", "2.3.0"},
                   {"nvidia-cudnn-cu12", "9.1.0.70"}},
                  true};
  EnvInfo new_env = old_env;
  new_env.name = "lightning-2.6";
  new_env.packages["lightning"] = "2.6.0";
  new_env.packages["torchmetrics"] = "1.8.2";
  EXPECT_EQ(what_differs(old_env, new_env),
            (std::vector<std::string>{"lightning 2.5.6 → 2.6.0", "+torchmetrics 1.8.2"}));

  EnvInfo newer = new_env;
  newer.torch = "2.7.1+cu126";
  newer.packages["nvidia-cudnn-cu12"] = "9.5.1.17";
  newer.packages["nvidia-nccl-cu12"] = "2.26.2";
  newer.packages.erase("omegaconf");
  EXPECT_EQ(what_differs(new_env, newer),
            (std::vector<std::string>{"torch 2.6.0+cu124 → 2.7.1+cu126", "-omegaconf 2.3.0",
                                      "2 nvidia-* packages"}));
  EXPECT_TRUE(what_differs(old_env, old_env).empty());

  EnvInfo debian{"bookworm", "1.13.1", "3.11.2", "1.24.2", "local", false, {}, true};
  EnvInfo wheel{"torch-1.13", "1.13.1", "3.11.2", "1.24.2", "pip", false, {}, true};
  EXPECT_EQ(what_differs(debian, wheel), (std::vector<std::string>{"kind local → pip"}));
  // A Debian env records no resolved set: its packages are not listed as removed or added.
  EXPECT_EQ(what_differs(debian, old_env),
            (std::vector<std::string>{"torch 1.13.1 → 2.6.0+cu124", "numpy 1.24.2 → 2.3.5"}));
}

// A scan whose env answered from measured facts loaded nothing: its allowlist record is a
// prediction (skipped), which the group gets unverified, spelled for the env's numpy (numpy 2
// serves numpy.core.X from numpy._core: a pair); and weights_only=False, never tried by a scan,
// is not said to fail.
TEST(ResultsModelTest, AFixNothingLoadedIsAPredictionAndAnUntriedLoadIsNotAFailure) {
  Json header = synthetic_header();
  for (auto& env : header.at("envs")) {
    env["numpy"] = env.at("name") == "old" ? "1.26.4" : "2.4.6";
  }
  std::vector<Record> records = {
      synthetic_record("rng", "file", "old", "default", Outcome::pass),
      synthetic_record("rng", "file", "mid", "default", Outcome::blocked,
                       {"numpy.core.multiarray._reconstruct"}),
      synthetic_record("rng", "file", "mid", "allowlist", Outcome::skipped),
      synthetic_record("module", "file", "old", "default", Outcome::pass),
      synthetic_record("module", "file", "mid", "default", Outcome::blocked, {"pkg.Net"}),
  };
  records[2].allowlist = {"numpy.core.multiarray._reconstruct"};
  ResultsModel model = build_results_model(header, records, {});
  const auto& causes = model.changes[0].causes;
  auto group = [&](const std::string& cause) {
    auto it = std::find_if(causes.begin(), causes.end(),
                           [&](const CauseGroup& g) { return g.cause == cause; });
    EXPECT_NE(it, causes.end()) << cause;
    return *it;
  };
  const CauseGroup rng = group("numpy.core.multiarray._reconstruct");
  EXPECT_EQ(rng.fix.kind, SuggestedFix::Kind::allowlist);
  EXPECT_FALSE(rng.fix.verified);
  EXPECT_NE(rng.fix.note.find("not verified"), std::string::npos) << rng.fix.note;
  EXPECT_NE(rng.fix.snippet.find("from numpy._core.multiarray import _reconstruct"),
            std::string::npos)
      << rng.fix.snippet;
  EXPECT_NE(rng.fix.snippet.find("(_reconstruct, \"numpy.core.multiarray._reconstruct\")"),
            std::string::npos)
      << rng.fix.snippet;
  const CauseGroup module = group("pkg.Net");
  EXPECT_EQ(module.fix.kind, SuggestedFix::Kind::none);
  EXPECT_EQ(module.fix.note.find("Neither"), std::string::npos) << module.fix.note;
  EXPECT_NE(module.fix.note.find("weights_only=False was not tried here"), std::string::npos);
}
