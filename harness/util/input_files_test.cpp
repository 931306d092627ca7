#include "testing/test_envs.h"
#include "util/input_files.h"

#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

using namespace loadmatrix;

namespace {

const InputFile* named(const std::vector<InputFile>& inputs, const std::string& suffix) {
  for (const auto& input : inputs) {
    if (input.display.ends_with(suffix)) {
      return &input;
    }
  }
  return nullptr;
}

} // namespace

TEST(InputFilesTest, EveryEntryUnderADirectoryGetsAResultAndNothingHangsOrLoops) {
  test_support::TempDir dir;
  auto root = dir.path() / "ckpts";
  std::filesystem::create_directories(root / "sub");
  std::ofstream(root / "b.pt") << "x";
  std::ofstream(root / "sub" / "a.pt") << "x";
  std::ofstream(root / "name-\xff\xfe.pt") << "x"; // not UTF-8
  std::filesystem::create_directory_symlink(root / "sub", root / "linked-dir");
  std::filesystem::create_symlink(root / "loop-b", root / "loop-a");
  std::filesystem::create_symlink(root / "loop-a", root / "loop-b");
  std::filesystem::create_symlink(root / "b.pt", root / "linked-file.pt");
  ASSERT_EQ(::mkfifo((root / "pipe.pt").c_str(), 0644), 0);

  auto inputs = collect_input_files({root, dir.path() / "missing.pt"});
  ASSERT_EQ(inputs.size(), 9u);
  EXPECT_TRUE(named(inputs, "ckpts/b.pt")->error.empty());
  EXPECT_EQ(named(inputs, "ckpts/sub/a.pt")->relative, std::filesystem::path("sub/a.pt"));
  EXPECT_TRUE(named(inputs, "linked-file.pt")->skipped.empty());
  EXPECT_NE(named(inputs, "linked-dir")->skipped.find("not followed"), std::string::npos);
  EXPECT_NE(named(inputs, "loop-a")->error.find("does not resolve"), std::string::npos);
  EXPECT_NE(named(inputs, "pipe.pt")->skipped.find("FIFO"), std::string::npos);
  EXPECT_NE(named(inputs, "missing.pt")->error.find("No such file"), std::string::npos);
  // A name that is not UTF-8 is shown with escapes and still serialises as JSON.
  const InputFile* odd = named(inputs, "name-\\xff\\xfe.pt");
  ASSERT_NE(odd, nullptr);
  EXPECT_NO_THROW((void)nlohmann::json(odd->display).dump());
  EXPECT_EQ(odd->file.filename().string(), "name-\xff\xfe.pt");
  // Paths are shown as they were given, each directory's entries in byte order of their names.
  EXPECT_EQ(inputs.front().display.rfind(root.string(), 0), 0u);
  std::vector<std::string> order;
  for (const auto& input : inputs) {
    order.push_back(input.relative.string());
  }
  EXPECT_EQ(order,
            (std::vector<std::string>{"b.pt", "linked-dir", "linked-file.pt", "loop-a", "loop-b",
                                      "name-\xff\xfe.pt", "pipe.pt", "sub/a.pt", "missing.pt"}));
}

TEST(InputFilesTest, ADirectoryGivenWithATrailingSlashIsShownWithOneSeparator) {
  test_support::TempDir dir;
  std::filesystem::create_directories(dir.path() / "ckpts" / "sub");
  std::ofstream(dir.path() / "ckpts" / "sub" / "a.pt") << "x";
  auto inputs = collect_input_files({dir.path().string() + "/ckpts/"});
  ASSERT_EQ(inputs.size(), 1u);
  EXPECT_EQ(inputs[0].display, dir.path().string() + "/ckpts/sub/a.pt");
  EXPECT_EQ(inputs[0].file, dir.path() / "ckpts" / "sub" / "a.pt");
  EXPECT_EQ(inputs[0].relative, std::filesystem::path("sub/a.pt"));
}

TEST(InputFilesTest, AFilterKeepsOnlyTheNamesItWantsUnderDirectoriesButNeverAPathGiven) {
  test_support::TempDir dir;
  auto root = dir.path() / "src";
  std::filesystem::create_directories(root / "pkg");
  std::ofstream(root / "a.py") << "x";
  std::ofstream(root / "notes.txt") << "x";
  std::ofstream(root / "pkg" / "b.py") << "x";
  ASSERT_EQ(::mkfifo((root / "pipe.py").c_str(), 0600), 0);
  auto python = [](std::string_view name) { return name.ends_with(".py"); };
  auto inputs = collect_input_files({root, root / "notes.txt"}, python);
  std::vector<std::string> shown;
  for (const auto& input : inputs) {
    shown.push_back(input.display.substr(input.display.rfind("src/")) +
                    (input.skipped.empty() ? "" : " (skipped)"));
  }
  EXPECT_EQ(shown, (std::vector<std::string>{"src/a.py", "src/pipe.py (skipped)", "src/pkg/b.py",
                                             "src/notes.txt"}));
}
