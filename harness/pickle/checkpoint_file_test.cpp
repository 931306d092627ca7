#include "pickle/checkpoint_file.h"
#include "pickle/pickle_analysis.h"
#include "testing/test_envs.h"
#include "util/json_file.h"
#include "util/process.h"

#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <zip.h>

using namespace loadmatrix;
using namespace std::string_literals;

namespace {

std::filesystem::path write(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::filesystem::path write_zip(const std::filesystem::path& path,
                                const std::vector<std::pair<std::string, std::string>>& members) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  for (const auto& [name, data] : members) {
    zip_source_t* source = zip_source_buffer(archive, data.data(), data.size(), 0);
    zip_file_add(archive, name.c_str(), source, ZIP_FL_OVERWRITE);
  }
  zip_close(archive);
  return path;
}

} // namespace

TEST(CheckpointFileTest, RecognisesEachFormatByItsBytes) {
  test_support::TempDir dir;
  auto zip = read_checkpoint_file(write_zip(
      dir.path() / "a.pt", {{"archive/data.pkl", "\x80\x02}."s}, {"archive/version", "3"}}));
  ASSERT_TRUE(zip) << zip.error().message;
  EXPECT_EQ(zip->format, CheckpointFormat::torch_zip);
  ASSERT_EQ(zip->pickles.size(), 1u);
  EXPECT_EQ(zip->pickles[0].name, "archive/data.pkl");

  auto script = read_checkpoint_file(
      write_zip(dir.path() / "s.pt", {{"m/data.pkl", "\x80\x02}."s},
                                      {"m/constants.pkl", "\x80\x02)."s},
                                      {"m/code/__torch__.py", "def f(): pass"}}));
  ASSERT_TRUE(script);
  EXPECT_EQ(script->format, CheckpointFormat::torchscript);
  EXPECT_EQ(script->pickles.size(), 2u);
  // torch.load calls an archive TorchScript by its constants.pkl alone; code/ is not enough.
  auto code_only = read_checkpoint_file(write_zip(
      dir.path() / "c.pt", {{"m/data.pkl", "\x80\x02}."s}, {"m/code/__torch__.py", "pass"}}));
  ASSERT_TRUE(code_only);
  EXPECT_EQ(code_only->format, CheckpointFormat::torch_zip);

  EXPECT_EQ(read_checkpoint_file(write(dir.path() / "raw.pkl", "\x80\x04N."s))->format,
            CheckpointFormat::raw_pickle);
  EXPECT_EQ(read_checkpoint_file(write(dir.path() / "x.npy", "\x93NUMPY\x01\x00"s))->format,
            CheckpointFormat::numpy_npy);
  EXPECT_EQ(read_checkpoint_file(
                write(dir.path() / "x.safetensors", "\x02\x00\x00\x00\x00\x00\x00\x00{}"s))
                ->format,
            CheckpointFormat::safetensors);
  EXPECT_EQ(read_checkpoint_file(write(dir.path() / "notes.txt", "hello"))->format,
            CheckpointFormat::not_a_checkpoint);
  EXPECT_EQ(read_checkpoint_file(write(dir.path() / "empty.pt", ""))->format,
            CheckpointFormat::not_a_checkpoint);
}

TEST(CheckpointFileTest, BrokenOrHostileContainersGetASpecificError) {
  test_support::TempDir dir;
  auto no_data = read_checkpoint_file(write_zip(dir.path() / "z.pt", {{"readme.txt", "x"}}));
  ASSERT_FALSE(no_data);
  EXPECT_NE(no_data.error().message.find("a zip without a data.pkl member"), std::string::npos);

  std::string whole;
  {
    write_zip(dir.path() / "t.pt", {{"archive/data.pkl", std::string(5000, 'N') + "."}});
    std::ifstream in(dir.path() / "t.pt", std::ios::binary);
    whole.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto truncated =
      read_checkpoint_file(write(dir.path() / "cut.pt", whole.substr(0, whole.size() / 2)));
  ASSERT_FALSE(truncated);
  EXPECT_NE(truncated.error().message.find("cut.pt: "), std::string::npos);

  // A member whose declared size is over the budget is refused before it is inflated.
  auto bomb = read_checkpoint_file(
      write_zip(dir.path() / "bomb.pt", {{"archive/data.pkl", std::string(1 << 20, 'N')}}), 4096);
  ASSERT_FALSE(bomb);
  EXPECT_NE(bomb.error().message.find("declares 1048576 bytes, over the 4096-byte limit"),
            std::string::npos);

  auto directory = read_checkpoint_file(dir.path());
  ASSERT_FALSE(directory);
  EXPECT_NE(directory.error().message.find("not a regular file"), std::string::npos);
}

// The legacy format's tensors follow its pickles; a 6 GB file is read like a tiny one (the
// tail here is a sparse hole, so the test costs no disk).
TEST(CheckpointFileTest, AMultiGigabyteLegacyFileReadsOnlyItsPickles) {
  test_support::TempDir dir;
  const std::string magic = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."s;
  auto path =
      write(dir.path() / "big.pt", magic + "\x80\x02M\xe9\x03."s + "\x80\x02}."s +
                                       "\x80\x02}X\x01\x00\x00\x00wK\x01s."s + "\x80\x02]."s);
  std::filesystem::resize_file(path, 6ull << 30);
  auto file = read_checkpoint_file(path);
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->format, CheckpointFormat::legacy);
  EXPECT_EQ(file->pickles.size(), 5u);
  size_t bytes = 0;
  for (const auto& member : file->pickles) {
    bytes += member.bytes.size();
  }
  EXPECT_LT(bytes, 100u);
  // A plain pickle is all pickle, so its size is what is bounded.
  auto raw = write(dir.path() / "raw.pkl", "\x80\x02}."s);
  std::filesystem::resize_file(raw, 1ull << 30);
  auto refused = read_checkpoint_file(raw, 1u << 20);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("over the 1048576-byte limit"), std::string::npos);
}

// torch.jit.save's 1.0-1.2 layout (measured with torch 1.1): model.json, tensors/N,
// attributes.pkl, no data.pkl. Only an archive no spelling of whose members torch.load (through
// miniz, which ignores case) could read as a pickle is one, since each env is asked to
// torch.load it.
TEST(CheckpointFileTest, TheOneToTwoTorchScriptLayoutIsAnArchiveWithNothingToUnpickle) {
  test_support::TempDir dir;
  auto old = read_checkpoint_file(
      write_zip(dir.path() / "old.pt", {{"traced/version", "2"},
                                        {"traced/model.json", "{}"},
                                        {"traced/attributes.pkl", "\x80\x02]q\x00."},
                                        {"traced/tensors/0", "abcd"}}));
  ASSERT_TRUE(old) << old.error().message;
  EXPECT_EQ(old->format, CheckpointFormat::torchscript_legacy);
  EXPECT_TRUE(old->pickles.empty());
  EXPECT_STREQ(checkpoint_format_id(old->format), "torchscript_legacy");

  auto crafted = read_checkpoint_file(write_zip(
      dir.path() / "crafted.pt", {{"traced/model.json", "{}"}, {"traced/DATA.PKL", "\x80\x02}."}}));
  ASSERT_FALSE(crafted);
  EXPECT_NE(crafted.error().message.find("a zip without a data.pkl member"), std::string::npos);
}
