#include "records/merge.h"
#include "records/result_store.h"
#include "testing/synthetic_results.h"
#include "testing/test_envs.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

std::filesystem::path write_results(const std::filesystem::path& dir, const std::string& name,
                                    Json header, const std::vector<Record>& records) {
  auto out = dir / name;
  auto store = ResultStore::open(out, RunStart::kFresh, std::move(header)).value_or_throw();
  for (const auto& record : records) {
    store->append(record).value_or_throw();
  }
  store->write_results().value_or_throw();
  return out / "results.json";
}

Json header_with_case() {
  Json header = test_support::synthetic_header();
  header["cases"] = {{{"name", "case00000"}, {"kind", "recipe"}},
                     {{"name", "clone"}, {"kind", "scenario"}}};
  return header;
}

} // namespace

TEST(MergeTest, ExpectedCellsCoverEveryProducerConsumerAndMode) {
  auto keys = expected_cell_keys(header_with_case());
  EXPECT_EQ(keys.size(), 3u * 3 * 3 + 3); // recipe: 3 x 3 envs x 3 modes; scenario: once per env
  EXPECT_TRUE(std::binary_search(keys.begin(), keys.end(), "clone|mid|mid|scenario"));
}

TEST(MergeTest, DisjointShardsMergeAndMissingCellsAreNamed) {
  test_support::TempDir dir;
  auto records = test_support::synthetic_records(1, [](size_t) { return true; });
  std::vector<Record> first(records.begin(), records.begin() + 10);
  std::vector<Record> second(records.begin() + 10, records.end());
  auto a = write_results(dir.path(), "a", header_with_case(), first);
  auto b = write_results(dir.path(), "b", header_with_case(), second);
  MergedResults merged = merge_results({a, b, a}); // the same file twice agrees with itself
  EXPECT_EQ(merged.records.size(), records.size());
  // Only the scenario was never run.
  EXPECT_EQ(merged.missing,
            (std::vector<std::string>{"clone|mid|mid|scenario", "clone|new|new|scenario",
                                      "clone|old|old|scenario"}));
  EXPECT_EQ(merged.header["envs"].size(), 3u);
}

TEST(MergeTest, ConflictingReportsOfOneCellAreRejectedNamingBothFiles) {
  test_support::TempDir dir;
  auto records = test_support::synthetic_records(1, [](size_t) { return true; });
  auto a = write_results(dir.path(), "a", header_with_case(), records);
  records[4].outcome = Outcome::pass;
  records[4].blocked_globals.clear();
  auto b = write_results(dir.path(), "b", header_with_case(), records);
  try {
    merge_results({a, b});
    FAIL() << "a conflict was merged";
  } catch (const FatalError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("merge: cell " + records[4].key() + " is blocked in " + a.string() +
                           " but pass in " + b.string()),
              std::string::npos)
        << message;
  }
  Json other = header_with_case();
  other["envs"][0]["torch"] = "2.15.0";
  auto c = write_results(dir.path(), "c", other, {});
  EXPECT_THROW(merge_results({a, c}), FatalError);
}

TEST(MergeTest, ConsecutivePairsMergeAsTheUnionOfWhatEachShardDeclares) {
  test_support::TempDir dir;
  // Two shards of a "consecutive" matrix old, mid, new: (old, mid) loads in mid, (mid, new) in new.
  Json first = header_with_case();
  first["pairs"] = "consecutive";
  first["loads"] = {{"old", {"old"}}, {"mid", {"old", "mid"}}};
  Json second = header_with_case();
  second["pairs"] = "consecutive";
  second["loads"] = {{"mid", {"mid"}}, {"new", {"mid", "new"}}};
  auto a = write_results(dir.path(), "a", first, {});
  auto b = write_results(dir.path(), "b", second, {});
  MergedResults merged = merge_results({a, b});
  EXPECT_EQ(merged.header.at("pairs"), "consecutive");
  EXPECT_EQ(merged.header.at("loads").at("mid"), Json({"old", "mid"}));
  EXPECT_EQ(merged.header.at("loads").at("new"), Json({"mid", "new"}));
  // case00000: old<-old, mid<-old, mid<-mid, new<-mid, new<-new, 3 modes each; the scenario once
  // per env.
  EXPECT_EQ(merged.missing.size(), 5u * 3 + 3);
  EXPECT_FALSE(std::binary_search(merged.missing.begin(), merged.missing.end(),
                                  "case00000|new|old|default"));

  // An input paired every env with every env: every pair is expected.
  auto c = write_results(dir.path(), "c", header_with_case(), {});
  MergedResults all = merge_results({a, c});
  EXPECT_FALSE(all.header.contains("loads"));
  EXPECT_EQ(all.missing.size(), 3u * 3 * 3 + 3);

  Json bad = header_with_case();
  bad["loads"] = {{"mid", "old"}};
  auto d = write_results(dir.path(), "d", bad, {});
  try {
    merge_results({d});
    FAIL() << "a malformed loads was accepted";
  } catch (const FatalError& e) {
    EXPECT_NE(std::string(e.what()).find("loads: expected an object of consumer -> [producer "
                                         "names]"),
              std::string::npos)
        << e.what();
  }
}
