#include "records/outcome.h"

#include <gtest/gtest.h>
#include <set>
#include <string>

using namespace loadmatrix;

TEST(OutcomeTest, TableIsClosedAndInDeclarationOrder) {
  const auto& table = outcomes();
  ASSERT_EQ(table.size(), 8u);
  std::set<std::string> ids;
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(table[i].outcome), i);
    EXPECT_TRUE(ids.insert(table[i].id).second) << table[i].id;
    EXPECT_EQ(parse_outcome(table[i].id), table[i].outcome);
    EXPECT_GT(std::string(table[i].definition).size(), 10u);
  }
  EXPECT_EQ(ids, (std::set<std::string>{"pass", "blocked", "error", "crash", "timeout",
                                        "unsupported", "mismatch", "skipped"}));
  EXPECT_FALSE(parse_outcome("passed"));
}

TEST(OutcomeTest, OnlyRealFailuresCountAsFailures) {
  EXPECT_FALSE(outcome_info(Outcome::pass).is_failure);
  EXPECT_FALSE(outcome_info(Outcome::unsupported).is_failure);
  EXPECT_FALSE(outcome_info(Outcome::skipped).is_failure);
  for (Outcome failure :
       {Outcome::blocked, Outcome::error, Outcome::crash, Outcome::timeout, Outcome::mismatch}) {
    EXPECT_TRUE(outcome_info(failure).is_failure) << outcome_id(failure);
  }
}
