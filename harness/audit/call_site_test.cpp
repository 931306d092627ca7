#include "audit/audit_job.h"
#include "audit/call_site.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

TEST(CallSiteTest, ReadsTheFindersCallAndNamesABadField) {
  Json call = {{"line", 10},
               {"column", 12},
               {"end_line", 10},
               {"function", "f"},
               {"callee", "torch.load"},
               {"weights_only", "omitted"},
               {"pickle_module", "passed"},
               {"mmap", "omitted"},
               {"safe_globals", {{"names", {"argparse.Namespace"}}}},
               {"fallback", {{"kind", "except"}, {"attempt_line", 8}}},
               {"code", "torch.load(buffer)"}};
  auto site = CallSite::from_json(call, 3);
  ASSERT_TRUE(site) << site.error().message;
  EXPECT_EQ(site->file, 3u);
  EXPECT_EQ(site->pickle_module, ArgumentUse::passed);
  ASSERT_TRUE(site->safe_globals);
  EXPECT_EQ(*site->safe_globals, std::vector<std::string>{"argparse.Namespace"});
  EXPECT_EQ(site->fallback->attempt_line, 8);

  call["weights_only"] = "maybe";
  EXPECT_EQ(CallSite::from_json(call, 0).error().message, "weights_only: unknown value \"maybe\"");
  call.erase("line");
  EXPECT_EQ(CallSite::from_json(call, 0).error().message, "line: expected an integer");
}

TEST(CallSiteTest, AssumedVariablesAreTheOnesTorchReadsOneAtATime) {
  EXPECT_EQ(*assumed_variable({}), "");
  EXPECT_EQ(*assumed_variable({"TORCH_FORCE_WEIGHTS_ONLY_LOAD=1"}),
            "TORCH_FORCE_WEIGHTS_ONLY_LOAD=1");
  EXPECT_EQ(*assumed_variable({"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=true"}),
            "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1");
  EXPECT_EQ(*assumed_variable({"TORCH_FORCE_WEIGHTS_ONLY_LOAD=0"}), ""); // torch reads it unset
  EXPECT_FALSE(assumed_variable({"PYTHONPATH=/x"}));
  EXPECT_FALSE(
      assumed_variable({"TORCH_FORCE_WEIGHTS_ONLY_LOAD=1", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1"}));
}

TEST(CallSiteTest, ReadsTheSpansAndNamesABadOne) {
  Json call = {
      {"line", 1},
      {"column", 1},
      {"function", "<module>"},
      {"callee", "torch.load"},
      {"weights_only", "true"},
      {"pickle_module", "omitted"},
      {"mmap", "omitted"},
      {"code", "th.load(f, weights_only=True, )"},
      {"spans",
       {{"callee", {0, 7}},
        {"keywords", {{{"name", "weights_only"}, {"span", {11, 28}}, {"value", {24, 28}}}}},
        {"close_paren", 30},
        {"trailing_comma", {28, 29}}}}};
  auto site = CallSite::from_json(call, 0);
  ASSERT_TRUE(site) << site.error().message;
  ASSERT_TRUE(site->spans.callee);
  EXPECT_EQ(site->spans.callee->end, 7u);
  const KeywordSpan* keyword = site->spans.keyword("weights_only");
  ASSERT_NE(keyword, nullptr);
  EXPECT_EQ(site->code.substr(keyword->value.begin, 4), "True");
  EXPECT_EQ(*site->spans.close_paren, 30u);
  EXPECT_EQ(site->spans.trailing_comma->begin, 28u);
  EXPECT_EQ(site->spans.keyword("mmap"), nullptr);

  auto error = [&](const Json& bad) { return CallSite::from_json(bad, 0).error().message; };
  Json bad = call;
  bad["spans"]["callee"] = {0, 40};
  EXPECT_EQ(error(bad), "spans.callee: [0, 40] is not within bytes [0, 31] of the code");
  bad = call;
  bad["spans"]["keywords"][0]["span"] = {12, 28};
  EXPECT_EQ(error(bad), "spans.keywords[0].span: does not start with the name \"weights_only\"");
  bad = call;
  bad["spans"]["keywords"][0]["value"] = {20, 29};
  EXPECT_EQ(error(bad),
            "spans.keywords[0].value: [20, 29] is not within bytes [23, 28] of the code");
  bad = call;
  bad["spans"]["keywords"][0]["name"] = 3;
  EXPECT_EQ(error(bad), "spans.keywords[0].name: expected a string");
  bad = call;
  bad["spans"]["callee"] = {0, 12}; // overlaps the keyword after it: out of order
  EXPECT_EQ(error(bad),
            "spans.keywords[0].span: [11, 28] is not within bytes [12, 31] of the code");
  bad = call;
  bad["spans"]["close_paren"] = 29;
  EXPECT_EQ(error(bad), "spans.close_paren: expected the offset of the code's closing \")\"");
  bad = call;
  bad["spans"]["trailing_comma"] = {29, 33};
  EXPECT_EQ(error(bad), "spans.trailing_comma: [29, 33] is not within bytes [28, 30] of the code");
  bad = call;
  bad["spans"] = "here";
  EXPECT_EQ(error(bad), "spans: expected an object");
  bad["spans"] = nullptr; // a call the finder gave no spans
  EXPECT_TRUE(CallSite::from_json(bad, 0));
}

TEST(CallSiteTest, ReadsAChainAndTheHelpersKeyword) {
  Json call = {
      {"line", 40},
      {"column", 5},
      {"function", "restore"},
      {"callee", "torch.load"},
      {"weights_only", "none"},
      {"pickle_module", "omitted"},
      {"mmap", "omitted"},
      {"code", "Model.load_from_checkpoint(path)"},
      {"via", "lightning.pytorch.core.module.LightningModule.load_from_checkpoint"},
      {"weights_only_keyword", "weights_only"},
      {"weights_only_bound", "default"},
      {"loads", 2},
      {"chain",
       {{{"path", "/site/lightning/fabric/utilities/cloud_io.py"},
         {"line", 53},
         {"column", 16},
         {"function", "_load"},
         {"code", "torch.load(path_or_url, weights_only=weights_only)"}}}},
      {"fallback", {{"kind", "except"}, {"attempt_line", 26}, {"path", "/site/utils/io.py"}}}};
  auto site = CallSite::from_json(call, 0);
  ASSERT_TRUE(site) << site.error().message;
  ASSERT_EQ(site->chain.size(), 1u);
  EXPECT_EQ(site->chain[0].path, "/site/lightning/fabric/utilities/cloud_io.py");
  EXPECT_EQ(site->chain[0].line, 53);
  EXPECT_EQ(site->weights_only_keyword, "weights_only");
  EXPECT_EQ(site->weights_only_bound, "default");
  EXPECT_EQ(site->loads, 2);
  EXPECT_EQ(site->fallback->path, "/site/utils/io.py");

  call["weights_only_keyword"] = nullptr; // the helper decides
  EXPECT_EQ(CallSite::from_json(call, 0)->weights_only_keyword, "");
  call["chain"][0].erase("line");
  EXPECT_EQ(CallSite::from_json(call, 0).error().message, "chain[0]: line: expected an integer");
  call["chain"] = "cloud_io.py";
  EXPECT_EQ(CallSite::from_json(call, 0).error().message, "chain: expected an array");
}
