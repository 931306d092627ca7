// Where users already work: the pre-commit hooks (.pre-commit-hooks.yaml) run by Debian's
// pre-commit in a scratch repository, and the GitHub Action and workflows linted by actionlint
// and action-validator (scripts/lint-actions).
#include "envs/environment.h"
#include "testing/checkpoint_writer.h"
#include "testing/test_envs.h"
#include "util/process.h"

#include <cstdlib>
#include <filesystem>
#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

const std::filesystem::path kSource = LOADMATRIX_SOURCE_DIR;

ProcessResult run_in(const std::filesystem::path& dir, std::vector<std::string> argv,
                     std::vector<std::string> env = {},
                     std::chrono::minutes timeout = std::chrono::minutes(5)) {
  SystemProcessRunner runner;
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.working_dir = dir.string();
  spec.env = std::move(env);
  spec.timeout = timeout;
  return runner.run(spec);
}

} // namespace

// pre-commit installs the hooks' package from this checkout (language: python, pyproject.toml)
// and runs them with no env of its own: the checkpoint hook predicts every release the project
// supports from the shipped facts. A staged checkpoint that names posix.system is refused; so is
// an argparse.Namespace on 2.6+, with its allowlist; a clean state dict passes; so does Python
// without a torch.load call, while one whose default flips at 2.6 is refused.
TEST(PreCommitHookEnvTest, StagedFilesAreJudgedOnEveryReleaseTheProjectSupports) {
  test_support::TempDir dir;
  std::filesystem::path repo = dir.path() / "project";
  std::filesystem::create_directories(repo);
  ASSERT_TRUE(run_in(repo, {"git", "init", "-q"}).succeeded());
  // On top of the test's environment: no env cache of the test machine's (the hook predicts from
  // the facts it ships), and not the tests' matrix (the hook's own is every release).
  // try-repo installs the hooks' package into a fresh store under TMPDIR each time, compiling the
  // CLI (minutes, cold): ccache shares the objects between them, paths taken relative to TMPDIR.
  std::filesystem::create_directories(dir.path() / "tmp");
  std::vector<std::string> env = {"LOADMATRIX_MATRIX=",
                                  "LOADMATRIX_ENV_DIR=" + (dir.path() / "no-envs").string(),
                                  "TMPDIR=" + (dir.path() / "tmp").string(),
                                  "SKBUILD_CMAKE_ARGS=-DCMAKE_CXX_COMPILER_LAUNCHER=ccache",
                                  "CCACHE_BASEDIR=" + (dir.path() / "tmp").string(),
                                  "GIT_AUTHOR_NAME=t",
                                  "GIT_AUTHOR_EMAIL=t@t",
                                  "GIT_COMMITTER_NAME=t",
                                  "GIT_COMMITTER_EMAIL=t@t"};
  auto hook = [&](const std::string& id) {
    return run_in(repo, {"pre-commit", "try-repo", kSource.string(), id, "--color", "never"}, env,
                  std::chrono::minutes(40));
  };
  // The project supports torch 2.1 and later: 1.7 and 1.13 are not judged.
  test_support::write_bytes(repo / "pyproject.toml",
                            "[project]\nname = \"p\"\ndependencies = [\"torch>=2.1\"]\n");
  // A state dict, saved by the host's torch.
  Environment bookworm = test_support::open_test_env("bookworm");
  ASSERT_TRUE(run_in(repo, {bookworm.python, "-c",
                            "import torch; torch.save({'w': torch.zeros(2)}, 'model.pt')"})
                  .succeeded());
  ASSERT_TRUE(run_in(repo, {"git", "add", "model.pt", "pyproject.toml"}).succeeded());
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

  // A training checkpoint with its argparse.Namespace: loads on 2.1-2.5, blocked from 2.6.
  ASSERT_TRUE(run_in(repo, {bookworm.python, "-c",
                            "import argparse, torch; torch.save({'w': torch.zeros(2), 'args': "
                            "argparse.Namespace(lr=0.1)}, 'ckpt.pt')"})
                  .succeeded());
  ASSERT_TRUE(run_in(repo, {"git", "add", "ckpt.pt"}).succeeded());
  ProcessResult blocked = hook("loadmatrix-checkpoints");
  EXPECT_NE(blocked.exit_code, 0) << blocked.stdout_text;
  for (const char* expected :
       {"argparse.Namespace", "add_safe_globals", "torch-2.6", "torch-2.15", "measured facts"}) {
    EXPECT_NE(blocked.stdout_text.find(expected), std::string::npos) << expected << "\n"
                                                                     << blocked.stdout_text;
  }
  for (const char* below : {"bullseye", "torch-1.13", "torch-2.0 "}) {
    EXPECT_EQ(blocked.stdout_text.find(below), std::string::npos) << below << "\n"
                                                                  << blocked.stdout_text;
  }
  ASSERT_TRUE(run_in(repo, {"git", "rm", "-q", "--cached", "ckpt.pt"}).succeeded());

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
