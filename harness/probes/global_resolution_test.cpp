// Which globals a real env resolves, asked of its own torch.load in its sandbox.
#include "probes/global_resolution.h"
#include "testing/test_envs.h"
#include "util/json_file.h"

#include <fstream>
#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

GlobalLookup lookup(std::string module, std::string qualname, bool zip = true, int protocol = 2) {
  return {std::move(module), std::move(qualname), zip, protocol};
}

} // namespace

TEST(GlobalResolutionEnvTest, AnOldEnvLacksWhatNewerStacksNameAndTheAnswerIsCached) {
  test_support::TempDir dir;
  Environment bookworm = test_support::open_test_env("bookworm");
  SystemProcessRunner runner;
  std::vector<GlobalLookup> lookups = {
      lookup("torch", "uint16"),                              // torch 2.3's dtype
      lookup("torch._utils", "_rebuild_tensor_v3"),           // 2.1's rebuild function
      lookup("pathlib._local", "PurePosixPath"),              // Python 3.13's module
      lookup("collections", "OrderedDict"),                   // everywhere
      lookup("no_such_package_anywhere", "Thing"),            // nothing provides it
      lookup("collections", "OrderedDict.fromkeys", true, 2), // dotted: only protocol 4+
      lookup("collections", "OrderedDict.fromkeys", true, 4),
  };
  ResolveOptions options;
  options.cache_file = dir.path() / "globals.json";
  ResolvedGlobals first = resolve_globals(bookworm, runner, lookups, options);
  ASSERT_TRUE(first.error.empty()) << first.error;
  auto answer = [&](const ResolvedGlobals& resolved, size_t i) {
    const GlobalResolution* found = resolved.find(lookups[i]);
    EXPECT_NE(found, nullptr) << lookups[i].key();
    return found ? *found : GlobalResolution{};
  };
  EXPECT_FALSE(answer(first, 0).present);
  EXPECT_NE(answer(first, 0).error.find("AttributeError"), std::string::npos)
      << answer(first, 0).error;
  EXPECT_FALSE(answer(first, 1).present);
  EXPECT_FALSE(answer(first, 2).present);
  EXPECT_NE(answer(first, 2).error.find("No module named 'pathlib._local'"), std::string::npos);
  EXPECT_TRUE(answer(first, 3).present);
  EXPECT_FALSE(answer(first, 4).present);
  EXPECT_FALSE(answer(first, 5).present);
  EXPECT_TRUE(answer(first, 6).present);

  // The env's own answers are cached; a module nothing provides is not.
  Json cache = read_json_file(options.cache_file).value();
  EXPECT_TRUE(cache["globals"].contains(lookups[0].key()));
  EXPECT_FALSE(cache["globals"].contains(lookups[4].key()));
  // Read back without asking the env: a runner that fails every command proves it.
  class NoRunner final : public ProcessRunner {
  public:
    ProcessResult run(const ProcessSpec&) override {
      ADD_FAILURE() << "the cached globals were asked again";
      return {};
    }
  } no_runner;
  std::vector<GlobalLookup> cached(lookups.begin(), lookups.begin() + 4);
  ResolvedGlobals second = resolve_globals(bookworm, no_runner, cached, options);
  EXPECT_FALSE(answer(second, 0).present);
  EXPECT_TRUE(answer(second, 3).present);
}

TEST(GlobalResolutionEnvTest, ANewerEnvHasThemAndTheZipFormatMapsTorchTensor) {
  Environment sid = test_support::open_test_env("sid");
  SystemProcessRunner runner;
  // torch.load maps the pre-1.10 module torch.tensor to torch._tensor in zip files only.
  std::vector<GlobalLookup> lookups = {lookup("torch", "uint16"),
                                       lookup("torch.tensor", "_rebuild_from_type_v2", true),
                                       lookup("torch.tensor", "_rebuild_from_type_v2", false)};
  ResolvedGlobals resolved = resolve_globals(sid, runner, lookups, {});
  ASSERT_TRUE(resolved.error.empty()) << resolved.error;
  EXPECT_TRUE(resolved.find(lookups[0])->present);
  EXPECT_TRUE(resolved.find(lookups[1])->present);
  EXPECT_FALSE(resolved.find(lookups[2])->present);
}

// A sparse tensor's data length is asked of the env's own _rebuild_sparse_tensor, and cached
// with the globals; an archive is imported in a child, whose failure is an answer too.
TEST(GlobalResolutionEnvTest, TheEnvsOwnSparseRebuildAndArchiveImportAnswer) {
  test_support::TempDir dir;
  Environment bookworm = test_support::open_test_env("bookworm");
  SystemProcessRunner runner;
  EnvQuestions questions;
  questions.sparse = {{"torch.sparse_coo", 4}, {"torch.sparse_coo", 3}};
  std::filesystem::path junk = dir.path() / "archives" / "junk.pt";
  std::filesystem::create_directories(junk.parent_path());
  { std::ofstream(junk) << "not a zip"; }
  std::filesystem::permissions(dir.path(), std::filesystem::perms::others_exec,
                               std::filesystem::perm_options::add);
  std::filesystem::permissions(junk.parent_path(), std::filesystem::perms::others_exec,
                               std::filesystem::perm_options::add);
  std::filesystem::permissions(junk, std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  questions.torchscript = {{"/somewhere/model.pt", junk}};
  ResolveOptions options;
  options.cache_file = dir.path() / "globals.json";
  ResolvedGlobals resolved = resolve_globals(bookworm, runner, questions, options);
  ASSERT_TRUE(resolved.error.empty()) << resolved.error;
  const GlobalResolution* four = resolved.find(questions.sparse[0]);
  ASSERT_NE(four, nullptr);
  EXPECT_FALSE(four->present); // 2.x's is_coalesced: 1.13 unpacks three
  EXPECT_NE(four->error.find("too many values to unpack"), std::string::npos) << four->error;
  ASSERT_NE(resolved.find(questions.sparse[1]), nullptr);
  EXPECT_TRUE(resolved.find(questions.sparse[1])->present);
  const ArchiveImport* archive = resolved.find(std::filesystem::path("/somewhere/model.pt"));
  ASSERT_NE(archive, nullptr);
  EXPECT_EQ(archive->result, ArchiveImport::Result::error);
  EXPECT_FALSE(archive->error.empty());
  Json cache = read_json_file(options.cache_file).value();
  EXPECT_TRUE(cache["globals"].contains("sparse|torch.sparse_coo|4"));
}
