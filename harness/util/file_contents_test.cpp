#include "testing/test_envs.h"
#include "util/file_contents.h"

#include <fstream>
#include <gtest/gtest.h>
#include <sys/stat.h>

using namespace loadmatrix;

namespace {

std::filesystem::path write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

} // namespace

TEST(FileContentsTest, SmallAndLargeFilesGiveTheirExactBytes) {
  test_support::TempDir dir;
  std::string small = "PK\x03\x04 a small file";
  std::string large(FileContents::kReadLimit + 4096, 'x'); // over the limit: mapped
  large.back() = 'y';
  auto read = FileContents::open(write_file(dir.path() / "small", small));
  auto mapped = FileContents::open(write_file(dir.path() / "large", large));
  auto empty = FileContents::open(write_file(dir.path() / "empty", ""));
  ASSERT_TRUE(read && mapped && empty);
  EXPECT_EQ((*read)->bytes(), small);
  EXPECT_EQ((*mapped)->bytes(), large);
  EXPECT_EQ((*empty)->bytes(), "");
}

TEST(FileContentsTest, RefusesWhatIsNotARegularFileWithoutBlocking) {
  test_support::TempDir dir;
  auto fifo = dir.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto opened = FileContents::open(fifo); // blocking here would hang the test
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().message, fifo.string() + ": not a regular file");
  auto directory = FileContents::open(dir.path());
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().message, dir.path().string() + ": not a regular file");
}

TEST(FileContentsTest, MissingFileErrorNamesThePath) {
  auto opened = FileContents::open("/nonexistent/loadmatrix.pt");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().message,
            "/nonexistent/loadmatrix.pt: cannot open: No such file or directory");
}
