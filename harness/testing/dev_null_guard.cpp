// Every test process checks, as it ends, that the machine's /dev/null is still a character
// device. A writer that once renamed a temp file over `--json /dev/null` turned it into a
// regular file, which then broke every later test and mmdebstrap; this makes such a defect the
// failure of the test that caused it, not a mystery three tests later.
#include <gtest/gtest.h>
#include <sys/stat.h>

namespace {

class DevNullGuard : public ::testing::Environment {
public:
  void TearDown() override {
    struct stat info {};
    ASSERT_EQ(::lstat("/dev/null", &info), 0) << "/dev/null is gone";
    EXPECT_TRUE(S_ISCHR(info.st_mode))
        << "/dev/null is no longer a character device: a test (or the tool under test) replaced "
           "it; restore it with: rm -f /dev/null && mknod -m 666 /dev/null c 1 3";
  }
};

[[maybe_unused]] const auto* const kRegistered =
    ::testing::AddGlobalTestEnvironment(new DevNullGuard);

} // namespace
