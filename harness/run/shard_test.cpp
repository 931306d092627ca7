#include "run/shard.h"
#include "util/error.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

TEST(ShardTest, PartitionsEveryUnitExactlyOnce) {
  for (size_t count : {1u, 2u, 3u, 5u, 7u}) {
    std::vector<size_t> owners(20, 0);
    for (size_t index = 1; index <= count; ++index) {
      Shard shard{index, count};
      for (size_t unit = 0; unit < owners.size(); ++unit) {
        owners[unit] += shard.contains(unit, owners.size());
      }
    }
    for (size_t owner : owners) {
      EXPECT_EQ(owner, 1u) << count << " shards";
    }
  }
}

TEST(ShardTest, OneShardPerEnvNeedsOnlyThatEnv) {
  std::vector<CaseSpec> cases(4);
  std::vector<std::string> envs = {"bookworm", "trixie", "sid"};
  EXPECT_EQ(consumers_in_shard(envs, cases, {1, 3}), std::vector<std::string>{"bookworm"});
  EXPECT_EQ(consumers_in_shard(envs, cases, {3, 3}), std::vector<std::string>{"sid"});
  EXPECT_EQ(consumers_in_shard(envs, cases, {1, 1}), envs);
  EXPECT_EQ(consumers_in_shard(envs, cases, {2, 6}), std::vector<std::string>{"bookworm"});
}

TEST(ShardTest, ParsesIOverNAndNamesBadValues) {
  Shard shard = Shard::parse("2/5");
  EXPECT_EQ(shard.index, 2u);
  EXPECT_EQ(shard.count, 5u);
  for (const char* bad : {"0/3", "4/3", "1/0", "2", "a/b", "1/2x"}) {
    EXPECT_THROW(Shard::parse(bad), FatalError) << bad;
  }
}
