#include "pickle/zip_directory.h"
#include "testing/test_envs.h"

#include <fstream>
#include <gtest/gtest.h>
#include <zip.h>

using namespace loadmatrix;
using namespace std::string_literals;

namespace {

// A zip made by libzip, each member stored or deflated as asked, returned as bytes.
std::string make_zip(const test_support::TempDir& dir,
                     const std::vector<std::tuple<std::string, std::string, bool>>& members) {
  auto path = dir.path() / "archive.zip";
  std::filesystem::remove(path);
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  for (const auto& [name, data, stored] : members) {
    zip_int64_t index = zip_file_add(archive, name.c_str(),
                                     zip_source_buffer(archive, data.data(), data.size(), 0), 0);
    zip_set_file_compression(archive, static_cast<zip_uint64_t>(index),
                             stored ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0);
  }
  zip_close(archive);
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Every entry for_each_zip_entry visits, or nullopt when it does not handle the archive.
std::optional<std::vector<ZipEntry>> read_zip_directory(std::string_view archive) {
  std::vector<ZipEntry> entries;
  if (!for_each_zip_entry(archive, [&](const ZipEntry& entry) { entries.push_back(entry); })) {
    return std::nullopt;
  }
  return entries;
}

} // namespace

TEST(ZipDirectoryTest, ListsEveryEntryAndReadsStoredMembers) {
  test_support::TempDir dir;
  std::string pickle = "\x80\x02}q\x00."s;
  std::string bytes = make_zip(dir, {{"archive/data.pkl", pickle, true},
                                     {"archive/data/0", std::string(5000, 'x'), false},
                                     {"archive/version", "3\n", true}});
  auto entries = read_zip_directory(bytes);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].name, "archive/data.pkl");
  EXPECT_EQ(stored_member(bytes, (*entries)[0]), std::optional<std::string_view>(pickle));
  EXPECT_EQ((*entries)[1].method, ZIP_CM_DEFLATE);
  EXPECT_FALSE(stored_member(bytes, (*entries)[1])); // deflated: libzip's job
}

TEST(ZipDirectoryTest, MalformedArchivesAreLeftToLibzip) {
  test_support::TempDir dir;
  std::string bytes = make_zip(dir, {{"archive/data.pkl", "\x80\x02N."s, true}});
  EXPECT_FALSE(read_zip_directory(bytes.substr(0, bytes.size() / 2)));
  EXPECT_FALSE(read_zip_directory(""));
  EXPECT_FALSE(read_zip_directory("PK\x05\x06"s + std::string(18, '\xff')));
  // A central directory claiming more entries than its bytes can hold.
  std::string lying = bytes;
  lying.replace(lying.size() - 22 + 10, 2, "\xff\xff"s);
  EXPECT_FALSE(read_zip_directory(lying));
  // A member whose size runs past the end of the file.
  auto entries = read_zip_directory(bytes);
  ASSERT_TRUE(entries);
  ZipEntry past = (*entries)[0];
  past.size = past.compressed_size = bytes.size();
  EXPECT_FALSE(stored_member(bytes, past));
}
