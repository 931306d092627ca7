// The skeleton an env is asked to import: the archive without its storages' bytes.
#include "scan/torchscript_skeleton.h"
#include "testing/test_envs.h"

#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <zip.h>

using namespace loadmatrix;

namespace {

using Members = std::map<std::string, std::string>;

void write_zip(const std::filesystem::path& file, const Members& members, bool deflate) {
  int code = 0;
  zip_t* archive = zip_open(file.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  ASSERT_NE(archive, nullptr);
  for (const auto& [name, bytes] : members) {
    zip_source_t* source = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
    zip_int64_t index = zip_file_add(archive, name.c_str(), source, 0);
    ASSERT_GE(index, 0);
    zip_set_file_compression(archive, static_cast<zip_uint64_t>(index),
                             deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  ASSERT_EQ(zip_close(archive), 0);
}

Members read_zip(const std::filesystem::path& file) {
  Members members;
  int code = 0;
  zip_t* archive = zip_open(file.c_str(), ZIP_RDONLY, &code);
  if (!archive) {
    ADD_FAILURE() << file << " does not open";
    return members;
  }
  for (zip_int64_t i = 0; i < zip_get_num_entries(archive, 0); ++i) {
    zip_stat_t stat;
    zip_stat_index(archive, static_cast<zip_uint64_t>(i), 0, &stat);
    EXPECT_EQ(stat.comp_method, ZIP_CM_STORE) << stat.name; // torch reads stored members
    std::string bytes(stat.size, '\0');
    zip_file_t* member = zip_fopen_index(archive, static_cast<zip_uint64_t>(i), 0);
    zip_fread(member, bytes.data(), stat.size);
    zip_fclose(member);
    members[stat.name] = bytes;
  }
  zip_discard(archive);
  return members;
}

} // namespace

TEST(TorchscriptSkeletonTest, StoragesAreEmptiedAndEverythingElseIsKeptUncompressed) {
  test_support::TempDir dir;
  Members original = {{"m/data.pkl", "pickle"},
                      {"m/data/0", std::string(4096, 'w')},
                      {"m/data/17", std::string(100, 'b')},
                      {"m/constants/0", std::string(64, 'c')},
                      {"m/constants.pkl", "constants"},
                      {"m/code/__torch__/m.py", "def forward(self): ..."},
                      {"m/code/__torch__/m.py.debug_pkl", "debug"},
                      {"m/.data/version", "3"},
                      {"m/data/notes", "not a storage: a name, not a number"}};
  write_zip(dir.path() / "in.pt", original, true);
  auto kept = write_torchscript_skeleton(dir.path() / "in.pt", dir.path() / "out.pt");
  ASSERT_TRUE(kept) << kept.error().message;
  Members skeleton = read_zip(dir.path() / "out.pt");
  ASSERT_EQ(skeleton.size(), original.size());
  for (const auto& [name, bytes] : original) {
    bool storage = name == "m/data/0" || name == "m/data/17" || name == "m/constants/0";
    EXPECT_EQ(skeleton[name], storage ? "" : bytes) << name;
  }
  EXPECT_EQ(*kept, 6u + 9 + 22 + 5 + 1 + 35);
}

TEST(TorchscriptSkeletonTest, ItNeverWritesOverAFileAndRefusesArchivesOverItsBudget) {
  test_support::TempDir dir;
  write_zip(dir.path() / "in.pt", {{"m/data.pkl", "pickle"}, {"m/code/big.py", "0123456789"}},
            false);
  {
    std::ofstream existing(dir.path() / "existing.pt");
    existing << "someone's file";
  }
  auto refused = write_torchscript_skeleton(dir.path() / "in.pt", dir.path() / "existing.pt");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("cannot create"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(std::filesystem::file_size(dir.path() / "existing.pt"), 14u);
  // A planted symlink is never written through, whatever libzip does with the name.
  std::filesystem::create_symlink(dir.path() / "target", dir.path() / "planted.pt");
  (void)write_torchscript_skeleton(dir.path() / "in.pt", dir.path() / "planted.pt");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "target"));

  auto over = write_torchscript_skeleton(dir.path() / "in.pt", dir.path() / "small.pt", 12);
  ASSERT_FALSE(over);
  EXPECT_NE(over.error().message.find("more than 12 bytes"), std::string::npos)
      << over.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "small.pt"));

  auto not_zip = write_torchscript_skeleton(dir.path() / "existing.pt", dir.path() / "x.pt");
  EXPECT_FALSE(not_zip);
}
