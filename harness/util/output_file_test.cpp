// The one writer: what is at a destination decides how it is written, and nothing but a
// regular file (or nothing) is ever replaced. Device nodes are made with mknod in a scratch
// directory: the machine's own /dev/null is never a test's target.
#include "testing/test_envs.h"
#include "util/json_file.h"
#include "util/output_file.h"

#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using namespace loadmatrix;

namespace {

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

mode_t node_type(const std::filesystem::path& path) {
  struct stat info {};
  EXPECT_EQ(::lstat(path.c_str(), &info), 0) << path;
  return info.st_mode & S_IFMT;
}

} // namespace

TEST(OutputFileTest, AnAbsentFileIsCreatedWithNoTempFileLeft) {
  test_support::TempDir dir;
  ASSERT_TRUE(write_output_file(dir.path() / "scan.json", "{}\n"));
  EXPECT_EQ(read_all(dir.path() / "scan.json"), "{}\n");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(OutputFileTest, ALongestNameIsStillWrittenAtomically) {
  test_support::TempDir dir;
  auto path = dir.path() / (std::string(250, 'n') + ".json"); // 255 bytes, NAME_MAX
  ASSERT_TRUE(write_output_file(path, "{}"));
  ASSERT_TRUE(write_output_file(path, "[]"));
  EXPECT_EQ(read_all(path), "[]");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(OutputFileTest, ARegularFileIsReplacedAtomicallyKeepingItsMode) {
  test_support::TempDir dir;
  auto path = dir.path() / "results.json";
  std::ofstream(path) << "old";
  ::chmod(path.c_str(), 0600);
  struct stat before {};
  ::stat(path.c_str(), &before);
  ASSERT_TRUE(write_output_file(path, "new"));
  struct stat after {};
  ::stat(path.c_str(), &after);
  EXPECT_EQ(read_all(path), "new");
  EXPECT_NE(before.st_ino, after.st_ino); // a new file renamed into place, not rewritten
  EXPECT_EQ(after.st_mode & 07777, 0600u);
}

// mknod of a device node needs root (CAP_MKNOD): these run under `ctest -L env`.
TEST(OutputFileRootTest, ACharacterDeviceIsWrittenInPlaceAndStaysADevice) {
  test_support::TempDir dir;
  auto null_twin = dir.path() / "null";
  // Root only, as the tool runs (mknod of a device needs CAP_MKNOD).
  ASSERT_EQ(::mknod(null_twin.c_str(), S_IFCHR | 0666, makedev(1, 3)), 0) << std::strerror(errno);
  auto target = resolve_output(null_twin.string());
  ASSERT_TRUE(target);
  EXPECT_EQ(target->kind, OutputTarget::Kind::in_place);
  ASSERT_TRUE(write_output_file(null_twin, std::string(100000, 'x')));
  EXPECT_EQ(node_type(null_twin), static_cast<mode_t>(S_IFCHR));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(OutputFileTest, AFifoWithAReaderGetsTheContentAndStaysAFifo) {
  test_support::TempDir dir;
  auto fifo = dir.path() / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  std::string received;
  std::thread reader([&] { received = read_all(fifo); });
  std::string content(200000, 'y'); // larger than the pipe buffer
  auto written = write_output_file(fifo, content);
  reader.join();
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(received, content);
  EXPECT_EQ(node_type(fifo), static_cast<mode_t>(S_IFIFO));
}

TEST(OutputFileTest, ASymlinkIsFollowedToItsTargetAndStaysALink) {
  test_support::TempDir dir;
  std::filesystem::create_directories(dir.path() / "real");
  std::ofstream(dir.path() / "real" / "scan.json") << "old";
  std::filesystem::create_symlink("real/scan.json", dir.path() / "link.json");
  std::filesystem::create_symlink("link.json", dir.path() / "link2.json"); // a chain
  ASSERT_TRUE(write_output_file(dir.path() / "link2.json", "new"));
  EXPECT_EQ(node_type(dir.path() / "link.json"), static_cast<mode_t>(S_IFLNK));
  EXPECT_EQ(node_type(dir.path() / "link2.json"), static_cast<mode_t>(S_IFLNK));
  EXPECT_EQ(read_all(dir.path() / "real" / "scan.json"), "new");
}

TEST(OutputFileTest, ADanglingSymlinkCreatesItsTarget) {
  test_support::TempDir dir;
  std::filesystem::create_symlink(dir.path() / "made.json", dir.path() / "link.json");
  ASSERT_TRUE(write_output_file(dir.path() / "link.json", "made"));
  EXPECT_EQ(node_type(dir.path() / "link.json"), static_cast<mode_t>(S_IFLNK));
  EXPECT_EQ(read_all(dir.path() / "made.json"), "made");
}

TEST(OutputFileTest, ASymlinkLoopIsAnErrorNamingThePath) {
  test_support::TempDir dir;
  std::filesystem::create_symlink("b", dir.path() / "a");
  std::filesystem::create_symlink("a", dir.path() / "b");
  auto target = resolve_output((dir.path() / "a").string());
  ASSERT_FALSE(target);
  EXPECT_EQ(target.error().message,
            (dir.path() / "a").string() + ": stat: Too many levels of symbolic links");
}

TEST(OutputFileTest, DashIsStandardOutput) {
  auto target = resolve_output("-");
  ASSERT_TRUE(target);
  EXPECT_EQ(target->kind, OutputTarget::Kind::standard_output);
}

TEST(OutputFileRootTest, WhatCannotBeWrittenIsRefusedWithItsReason) {
  test_support::TempDir dir;
  auto refused = [](const std::filesystem::path& path) {
    auto target = resolve_output(path.string());
    return target ? std::string("accepted") : target.error().message;
  };
  EXPECT_EQ(refused(dir.path()), dir.path().string() + ": is a directory");
  EXPECT_EQ(refused(dir.path() / "no" / "such.json"), (dir.path() / "no" / "such.json").string() +
                                                          ": " + (dir.path() / "no").string() +
                                                          " is not an existing directory");
  auto block = dir.path() / "loop0";
  ASSERT_EQ(::mknod(block.c_str(), S_IFBLK | 0600, makedev(7, 0)), 0);
  EXPECT_NE(refused(block).find(": is a block device"), std::string::npos);
  EXPECT_EQ(node_type(block), static_cast<mode_t>(S_IFBLK));
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  auto socket_path = dir.path() / "s";
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket_path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  EXPECT_NE(refused(socket_path).find("socket"), std::string::npos);
  ::close(fd);
}

TEST(OutputFileTest, AnOutputDirectoryIsMadeButNeverOverAFile) {
  test_support::TempDir dir;
  EXPECT_TRUE(prepare_output_dir(dir.path() / "a" / "b"));
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() / "a" / "b"));
  std::ofstream(dir.path() / "file") << "x";
  auto made = prepare_output_dir(dir.path() / "file");
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().message,
            (dir.path() / "file").string() + ": exists and is not a directory");
  EXPECT_EQ(read_all(dir.path() / "file"), "x");
}

TEST(OutputFileRootTest, AStreamOnADeviceIsOpenedInPlace) {
  test_support::TempDir dir;
  auto null_twin = dir.path() / "null";
  ASSERT_EQ(::mknod(null_twin.c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  auto fd = open_output_stream(null_twin, StreamStart::kTruncate);
  ASSERT_TRUE(fd);
  EXPECT_TRUE(write_all(*fd, "line\n", "null"));
  ::close(*fd);
  EXPECT_EQ(node_type(null_twin), static_cast<mode_t>(S_IFCHR));
  auto dir_fd = open_output_stream(dir.path(), StreamStart::kAppend);
  ASSERT_FALSE(dir_fd);
  EXPECT_EQ(dir_fd.error().message, dir.path().string() + ": is a directory");
}
