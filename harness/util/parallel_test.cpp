#include "util/parallel.h"

#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace loadmatrix;

TEST(ParallelTest, ForEachIndexDoesEveryIndexExactlyOnce) {
  for (size_t jobs : {0, 1, 3, 64}) { // 64: more threads asked for than there is work
    std::vector<std::atomic<int>> done(1000);
    for_each_index(done.size(), jobs, [&](size_t i) { ++done[i]; });
    for (size_t i = 0; i < done.size(); ++i) {
      ASSERT_EQ(done[i], 1) << "index " << i << " with jobs " << jobs;
    }
  }
  for_each_index(0, 4, [](size_t) { FAIL() << "no work for an empty range"; });
}

TEST(ParallelTest, ForEachIndexRethrowsAfterEveryThreadHasStopped) {
  std::atomic<int> running{0};
  std::atomic<int> started{0};
  // Each piece takes a while, so the range cannot be finished before piece 5's throw lands.
  auto work = [&](size_t i) {
    ++running;
    ++started;
    if (i == 5) {
      --running;
      throw std::runtime_error("piece 5 failed");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    --running;
  };
  try {
    for_each_index(10'000, 4, work);
    FAIL() << "the failure was swallowed";
  } catch (const std::runtime_error& error) {
    EXPECT_STREQ(error.what(), "piece 5 failed");
  }
  EXPECT_EQ(running, 0);      // nothing still at work when the exception arrived
  EXPECT_LT(started, 10'000); // the others stopped instead of finishing the range
}
