#include "publish/exit_status.h"
#include "publish/job_output.h"

#include <gtest/gtest.h>
#include <set>
#include <sstream>

using namespace loadmatrix;

TEST(JobOutputTest, WhatSharesTheTerminalIsClearedOnceBeforeTheFirstLine) {
  std::ostringstream out;
  std::ostringstream err;
  int cleared = 0;
  JobOutput output(out, err, [&] {
    EXPECT_TRUE(out.str().empty()); // before anything is printed
    ++cleared;
  });
  EXPECT_EQ(cleared, 0);
  output.out() << "table\n";
  output.err() << "why\n";
  output.begin();
  EXPECT_EQ(cleared, 1);
  EXPECT_EQ(out.str(), "table\n");
  EXPECT_EQ(err.str(), "why\n");
}

TEST(JobOutputTest, EachExitStatusHasItsOwnCode) {
  std::set<int> codes;
  for (const auto& info : kExitStatuses) {
    EXPECT_EQ(exit_code(info.status), info.code);
    codes.insert(info.code);
  }
  EXPECT_EQ(codes, (std::set<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(exit_code(ExitStatus::failing), 1); // what CI jobs test for
}
