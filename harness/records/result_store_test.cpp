#include "records/result_store.h"
#include "testing/test_envs.h"

#include <fstream>
#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

Record make_record(const std::string& case_name, Outcome outcome) {
  Record record;
  record.case_name = case_name;
  record.producer = "bookworm";
  record.consumer = "sid";
  record.mode = LoaderMode::weights_only;
  record.outcome = outcome;
  if (outcome == Outcome::blocked) {
    record.blocked_globals = {"argparse.Namespace"};
    record.reason = BlockReason::global_not_allowed;
  }
  return record;
}

} // namespace

TEST(ResultStoreTest, KeepsEveryRecordAndWritesSortedResults) {
  test_support::TempDir dir;
  auto store =
      ResultStore::open(dir.path(), RunStart::kFresh, {{"envs", Json::array()}}).value_or_throw();
  ASSERT_TRUE(store->append(make_record("zeta", Outcome::pass)));
  ASSERT_TRUE(store->append(make_record("alpha", Outcome::blocked)));
  ASSERT_TRUE(store->write_results());
  auto [header, records] = read_results(dir.path() / "results.json").value_or_throw();
  EXPECT_EQ(header["schema"], "loadmatrix.results/1");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].case_name, "alpha");
  EXPECT_EQ(records[0].blocked_globals, std::vector<std::string>{"argparse.Namespace"});
  EXPECT_EQ(records[1].case_name, "zeta");
}

TEST(ResultStoreTest, ResumeKeepsFinishedCellsAndDropsATornLastLine) {
  test_support::TempDir dir;
  {
    auto store = ResultStore::open(dir.path(), RunStart::kFresh, Json::object()).value_or_throw();
    ASSERT_TRUE(store->append(make_record("a", Outcome::pass)));
    ASSERT_TRUE(store->append(make_record("b", Outcome::error)));
  }
  // The driver was killed while writing a third record.
  std::ofstream(dir.path() / "records.jsonl", std::ios::app) << R"({"case": "c", "produc)";
  auto resumed = ResultStore::open(dir.path(), RunStart::kResume, Json::object()).value_or_throw();
  EXPECT_EQ(resumed->resumed(), 2u);
  EXPECT_TRUE(resumed->has(make_record("a", Outcome::pass).key()));
  EXPECT_FALSE(resumed->has(make_record("c", Outcome::pass).key()));
  ASSERT_TRUE(resumed->append(make_record("c", Outcome::pass)));
  auto again = ResultStore::open(dir.path(), RunStart::kResume, Json::object()).value_or_throw();
  EXPECT_EQ(again->size(), 3u);

  // Without --resume the journal starts over.
  auto fresh = ResultStore::open(dir.path(), RunStart::kFresh, Json::object()).value_or_throw();
  EXPECT_EQ(fresh->size(), 0u);
}

TEST(ResultStoreTest, RejectsResultsOfAnotherSchema) {
  test_support::TempDir dir;
  std::ofstream(dir.path() / "results.json")
      << R"({"schema": "loadmatrix.results/2", "records": []})";
  auto read = read_results(dir.path() / "results.json");
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("schema: expected 'loadmatrix.results/1'"),
            std::string::npos);
}
