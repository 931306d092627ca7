// Where users already work: the pre-commit hooks (.pre-commit-hooks.yaml) run by Debian's
// pre-commit in a scratch repository, and the GitHub Action and workflows linted by actionlint
// and action-validator (scripts/lint-actions).
#include "envs/environment.h"
#include "testing/checkpoint_writer.h"
#include "testing/test_envs.h"
#include "util/process.h"

#include <filesystem>
#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

const std::filesystem::path kSource = LOADMATRIX_SOURCE_DIR;

ProcessResult run_in(const std::filesystem::path& dir, std::vector<std::string> argv,
                     std::vector<std::string> env = {}) {
  SystemProcessRunner runner;
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.working_dir = dir.string();
  spec.env = std::move(env);
  spec.timeout = std::chrono::minutes(5);
  return runner.run(spec);
}

} // namespace

// A staged checkpoint that names posix.system is refused; a clean state dict passes; so does
// Python without a torch.load call, while one whose default flips at 2.6 is refused.
TEST(PreCommitHookEnvTest, AStagedPayloadIsRefusedAndACleanStateDictPasses) {
  for (const auto& name : test_support::default_env_names()) {
    test_support::open_test_env(name);
  }
  test_support::TempDir dir;
  std::filesystem::path repo = dir.path() / "project";
  std::filesystem::create_directories(repo);
  ASSERT_TRUE(run_in(repo, {"git", "init", "-q"}).succeeded());
  // The hooks find the `loadmatrix` this build made on PATH and build nothing.
  std::string bin = std::filesystem::path(LOADMATRIX_CLI).parent_path().string();
  const char* path = std::getenv("PATH");
  std::vector<std::string> env = {"PATH=" + bin + ":" + (path ? path : "/usr/bin:/bin"),
                                  "PRE_COMMIT_HOME=" + (dir.path() / "cache").string(),
                                  "GIT_AUTHOR_NAME=t",
                                  "GIT_AUTHOR_EMAIL=t@t",
                                  "GIT_COMMITTER_NAME=t",
                                  "GIT_COMMITTER_EMAIL=t@t"};
  auto hook = [&](const std::string& id) {
    return run_in(repo, {"pre-commit", "try-repo", kSource.string(), id, "--color", "never"}, env);
  };
  // A state dict, saved by the host's torch.
  Environment bookworm = test_support::open_test_env("bookworm");
  ASSERT_TRUE(run_in(repo, {bookworm.python, "-c",
                            "import torch; torch.save({'w': torch.zeros(2)}, 'model.pt')"})
                  .succeeded());
  ASSERT_TRUE(run_in(repo, {"git", "add", "model.pt"}).succeeded());
  ProcessResult clean = hook("loadmatrix-checkpoints");
  EXPECT_EQ(clean.exit_code, 0) << clean.stdout_text << clean.stderr_text;
  EXPECT_NE(clean.stdout_text.find("Passed"), std::string::npos) << clean.stdout_text;

  test_support::write_bytes(repo / "evil.pkl", "cposix\nsystem\n(S'id'\ntR.");
  ASSERT_TRUE(run_in(repo, {"git", "add", "evil.pkl"}).succeeded());
  ProcessResult refused = hook("loadmatrix-checkpoints");
  EXPECT_NE(refused.exit_code, 0) << refused.stdout_text;
  EXPECT_NE(refused.stdout_text.find("Failed"), std::string::npos) << refused.stdout_text;
  EXPECT_NE(refused.stdout_text.find("posix.system"), std::string::npos) << refused.stdout_text;
  ASSERT_TRUE(run_in(repo, {"git", "rm", "-q", "--cached", "evil.pkl"}).succeeded());

  test_support::write_bytes(repo / "util.py",
                            "import json\n\ndef read(p):\n    return json.load(p)\n");
  ASSERT_TRUE(run_in(repo, {"git", "add", "util.py"}).succeeded());
  ProcessResult no_load = hook("loadmatrix-audit");
  EXPECT_EQ(no_load.exit_code, 0) << no_load.stdout_text << no_load.stderr_text;
  test_support::write_bytes(repo / "clone.py", "import io\nimport torch\n\ndef clone(buffer):\n"
                                               "    return torch.load(buffer)\n");
  ASSERT_TRUE(run_in(repo, {"git", "add", "clone.py"}).succeeded());
  ProcessResult flips = hook("loadmatrix-audit");
  EXPECT_NE(flips.exit_code, 0) << flips.stdout_text;
  EXPECT_NE(flips.stdout_text.find("LMA001"), std::string::npos) << flips.stdout_text;
}

// action.yml and every workflow pass actionlint (workflows) and action-validator (both); a
// broken copy of each is caught, so the check is not vacuous.
TEST(GitHubActionEnvTest, TheActionAndTheWorkflowsPassActionlintAndActionValidator) {
  test_support::TempDir dir;
  ProcessResult lint = run_in(kSource, {(kSource / "scripts" / "lint-actions").string()});
  EXPECT_EQ(lint.exit_code, 0) << lint.stdout_text << lint.stderr_text;

  std::filesystem::create_directories(dir.path() / "bad");
  test_support::write_bytes(dir.path() / "bad" / "action.yml",
                            "name: x\ndescription: y\nruns:\n  using: compositee\n  steps: []\n");
  test_support::write_bytes(dir.path() / "bad" / "workflow.yml",
                            "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                            "      - run: echo ${{ github.no_such_property }}\n");
  ProcessResult bad_action = run_in(kSource, {(kSource / "scripts" / "lint-actions").string(),
                                              (dir.path() / "bad" / "action.yml").string()});
  EXPECT_NE(bad_action.exit_code, 0) << bad_action.stdout_text;
  ProcessResult bad_workflow = run_in(kSource, {(kSource / "scripts" / "lint-actions").string(),
                                                (dir.path() / "bad" / "workflow.yml").string()});
  EXPECT_NE(bad_workflow.exit_code, 0);
  EXPECT_NE(bad_workflow.stdout_text.find("no_such_property"), std::string::npos)
      << bad_workflow.stdout_text;
}
