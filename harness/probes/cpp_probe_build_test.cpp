#include "probes/cpp_probe_build.h"
#include "testing/test_envs.h"

#include <gtest/gtest.h>

using namespace loadmatrix;
using namespace std::chrono_literals;

namespace {

class CppProbeEnvTest : public ::testing::TestWithParam<std::string> {};

int torch_major(const Environment& env) {
  return std::stoi(env.fingerprint().torch);
}

} // namespace

TEST_P(CppProbeEnvTest, BuildsOnceThenLoadsWhatTheEnvSaved) {
  Environment env = test_support::open_test_env(GetParam());
  EnvCache cache = test_support::test_env_cache();
  SystemProcessRunner runner;
  auto log = [](const std::string&) {};
  auto probe = ensure_cpp_probe(env, cache, runner, log);
  ASSERT_TRUE(probe) << probe.error().message;
  auto again = ensure_cpp_probe(env, cache, runner, log);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->built) << "the probe was rebuilt although nothing changed";
  EXPECT_EQ(again->dir, probe->dir);

  // Checkpoints written by this env's own torch.
  test_support::TempDir scratch;
  test_support::give_to_sandbox_user(scratch.path());
  SandboxMount work = env.sandbox.place(scratch.path(), "work", true);
  SandboxCommand save;
  save.argv = {env.python, "-c",
               "import sys, torch\n"
               "torch.save({'w': torch.ones(2, 3)}, sys.argv[1] + '/dict.pt')\n"
               "torch.save(torch.nn.Linear(2, 2).state_dict(), sys.argv[1] + '/state.pt')\n"
               "open(sys.argv[1] + '/garbage.pt', 'wb').write(b'not a checkpoint')\n",
               work.inside.string()};
  save.mounts = {work};
  ProcessResult saved = env.sandbox.run(runner, save);
  ASSERT_TRUE(saved.succeeded()) << saved.describe() << saved.stderr_text;

  CppProbeRun dict = run_cpp_probe(env, *probe, runner, "pickle", scratch.path() / "dict.pt");
  ASSERT_TRUE(dict.report) << dict.report.error().message << dict.result.stderr_text;
  if (torch_major(env) >= 2) {
    EXPECT_EQ(dict.report->at("ok"), true) << dict.report->dump();
    EXPECT_EQ(dict.report->at("value").dump(),
              R"({"dict":{"w":{"tensor":{"dtype":"Float","shape":[2,3]}}}})");
  }

  // A state_dict is an OrderedDict with _metadata: torch::pickle_load refuses it.
  CppProbeRun state = run_cpp_probe(env, *probe, runner, "pickle", scratch.path() / "state.pt");
  ASSERT_TRUE(state.report) << state.report.error().message << state.result.stderr_text;
  EXPECT_EQ(state.report->at("ok"), false) << state.report->dump();

  CppProbeRun garbage = run_cpp_probe(env, *probe, runner, "pickle", scratch.path() / "garbage.pt");
  ASSERT_TRUE(garbage.report) << garbage.report.error().message;
  EXPECT_EQ(garbage.report->at("ok"), false);
  EXPECT_FALSE(garbage.report->at("message").get<std::string>().empty());
}

INSTANTIATE_TEST_SUITE_P(AllEnvs, CppProbeEnvTest,
                         ::testing::ValuesIn(test_support::default_env_names()));
