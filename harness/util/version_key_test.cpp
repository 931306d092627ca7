#include "util/version_key.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

TEST(VersionKeyTest, OrdersTorchAndPythonVersionsByTheirNumbers) {
  EXPECT_EQ(version_key("2.6.0+debian"), (std::vector<int>{2, 6, 0}));
  EXPECT_EQ(version_key("1.13.0a0"), (std::vector<int>{1, 13, 0}));
  EXPECT_LT(version_key("2.6.0+debian"), version_key("2.14.1+debian"));
  EXPECT_LT(version_key("3.9.2"), version_key("3.14.10")); // not as strings
  EXPECT_TRUE(version_key("").empty());
}
