#include "records/allowlist_search.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

Json refusal(const std::string& global) {
  return {{"status", "raised"},
          {"error_type", "UnpicklingError"},
          {"message", "Weights only load failed. Unsupported global: GLOBAL " + global +
                          " was not an allowed global by default."}};
}

// A fake torch that refuses `needed` globals one at a time, in order, until all are allowed.
LoadWithAllowlist torch_needing(std::vector<std::string> needed, int* calls) {
  return [needed, calls](const std::vector<std::string>& allowed) {
    ++*calls;
    for (const auto& global : needed) {
      if (std::find(allowed.begin(), allowed.end(), global) == allowed.end()) {
        return refusal(global);
      }
    }
    return Json{{"status", "returned"}, {"description", nullptr}};
  };
}

} // namespace

TEST(AllowlistSearchTest, FindsEveryGlobalTorchReportsOneAtATime) {
  int calls = 0;
  auto found = search_allowlist(torch_needing(
      {"numpy.core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype"}, &calls));
  EXPECT_TRUE(found.loaded);
  EXPECT_EQ(found.allowlist, (std::vector<std::string>{"numpy.core.multiarray._reconstruct",
                                                       "numpy.ndarray", "numpy.dtype"}));
  EXPECT_EQ(found.blocked, found.allowlist);
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(found.reason, BlockReason::global_not_allowed);
  EXPECT_TRUE(found.stop.empty());
}

TEST(AllowlistSearchTest, NeverAllowlistsADangerousGlobal) {
  int calls = 0;
  auto found = search_allowlist(torch_needing({"argparse.Namespace", "builtins.eval"}, &calls));
  EXPECT_FALSE(found.loaded);
  EXPECT_EQ(found.allowlist, std::vector<std::string>{"argparse.Namespace"});
  EXPECT_EQ(found.blocked, (std::vector<std::string>{"argparse.Namespace", "builtins.eval"}));
  EXPECT_EQ(found.stop, "builtins.eval can run arbitrary code; it must never be allowlisted");
}

TEST(AllowlistSearchTest, StopsAtABlocklistedModuleAndAtARepeatedRefusal) {
  auto blocklisted = search_allowlist([](const std::vector<std::string>&) {
    return Json{{"status", "raised"},
                {"error_type", "UnpicklingError"},
                {"message", "Weights only load failed. Trying to load unsupported GLOBAL "
                            "posix.system whose module posix is blocked."}};
  });
  EXPECT_EQ(blocklisted.reason, BlockReason::module_blocklisted);
  EXPECT_EQ(blocklisted.stop,
            "posix.system is in a module torch blocklists; no allowlist admits it");

  // torch 1.13 keeps refusing to build the class even once its global is allowed.
  auto refused = search_allowlist([](const std::vector<std::string>&) { return refusal("x.Y"); });
  EXPECT_FALSE(refused.loaded);
  EXPECT_EQ(refused.allowlist, std::vector<std::string>{"x.Y"});
  EXPECT_EQ(refused.stop, "torch refuses x.Y even when allowlisted (global_not_allowed)");
}

TEST(AllowlistSearchTest, AnErrorThatIsNotARefusalEndsTheSearch) {
  auto found = search_allowlist([](const std::vector<std::string>&) {
    return Json{{"status", "raised"}, {"error_type", "ModuleNotFoundError"}, {"message", "x"}};
  });
  EXPECT_FALSE(found.loaded);
  EXPECT_EQ(found.rounds, 1);
  EXPECT_TRUE(found.blocked.empty());
}
