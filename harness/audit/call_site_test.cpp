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
