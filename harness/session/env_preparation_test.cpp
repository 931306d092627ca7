#include "cli/resources.h"
#include "matrix/matrix.h"
#include "session/env_preparation.h"
#include "testing/checkpoint_writer.h"
#include "testing/test_envs.h"

#include <gtest/gtest.h>
#include <mutex>

using namespace loadmatrix;

TEST(EnvPreparationTest, AnEnvThatIsNotProvisionedIsNamedAndLoggedNeverSilentlyLeftOut) {
  test_support::TempDir cache;
  std::vector<EnvSpec> specs(2);
  specs[0].name = "bullseye";
  specs[0].suite = "bullseye";
  specs[1].name = "sid";
  specs[1].suite = "sid";
  EnvPreparation preparation;
  preparation.env_dir = cache.path();
  preparation.shipped = resources().shipped;
  preparation.cpp_probes = true;
  SystemProcessRunner runner;
  std::mutex mutex;
  std::vector<std::string> lines;
  PreparedEnvs prepared = prepare_envs(specs, preparation, runner, [&](const std::string& line) {
    std::lock_guard lock(mutex);
    lines.push_back(line);
  });
  EXPECT_TRUE(prepared.envs.empty());
  EXPECT_TRUE(prepared.cpp_probes.empty());
  EXPECT_EQ(prepared.missing, (std::vector<std::string>{"bullseye", "sid"})); // the specs' order
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& line : lines) {
    EXPECT_NE(line.find("left out"), std::string::npos) << line;
    EXPECT_NE(line.find("loadmatrix envs provision"), std::string::npos) << line;
  }
}

// An env that is not provisioned stands in by its measured facts when a facts file has an env of
// the same identity: predicted for, never run in, and said to be; --min-torch leaves out the
// older ones; a facts file that cannot be read is an error naming it.
TEST(EnvPreparationTest, AnEnvThatIsNotProvisionedIsPredictedFromItsMeasuredFacts) {
  test_support::TempDir cache;
  Matrix releases = load_matrix(resources().home / "matrix" / "releases.json");
  std::vector<EnvSpec> specs = releases.select_envs({"bullseye", "torch-2.6"});
  EnvSpec mine = specs[1];
  mine.name = "torch-2.6-mine";
  mine.requirements.push_back("opacus==1.5.2");
  specs.push_back(mine);
  EnvPreparation preparation;
  preparation.env_dir = cache.path();
  preparation.shipped = resources().shipped;
  preparation.facts = {resources().home / "matrix" / "facts" / "releases.json"};
  SystemProcessRunner runner;
  std::mutex mutex;
  std::vector<std::string> lines;
  auto log = [&](const std::string& line) {
    std::lock_guard lock(mutex);
    lines.push_back(line);
  };
  PreparedEnvs prepared = prepare_envs(specs, preparation, runner, log);
  ASSERT_EQ(prepared.envs.size(), 2u);
  EXPECT_EQ(prepared.envs[0].spec.name, "bullseye");
  EXPECT_EQ(prepared.envs[1].spec.name, "torch-2.6");
  EXPECT_FALSE(prepared.envs[1].runs_here());
  EXPECT_EQ(prepared.envs[1].fingerprint().torch, "2.6.0+cu124");
  EXPECT_TRUE(prepared.facts_globals.contains("torch-2.6"));
  EXPECT_EQ(prepared.missing, std::vector<std::string>{"torch-2.6-mine"}); // no facts of its own
  std::string all;
  for (const auto& line : lines) {
    all += line + "\n";
  }
  EXPECT_NE(all.find("torch-2.6: not provisioned here; predicted from torch 2.6.0+cu124's "
                     "measured facts"),
            std::string::npos)
      << all;

  preparation.min_torch = "2.1";
  prepared = prepare_envs(releases.select_envs({"bullseye", "torch-1.13", "torch-2.6"}),
                          preparation, runner, log);
  ASSERT_EQ(prepared.envs.size(), 1u);
  EXPECT_EQ(prepared.envs[0].spec.name, "torch-2.6");
  EXPECT_TRUE(prepared.missing.empty());

  // A floor above every env would judge nothing, and a hook would pass everything.
  preparation.min_torch = "2.16";
  EXPECT_THROW(
      prepare_envs(releases.select_envs({"torch-2.6", "torch-2.15"}), preparation, runner, log),
      FatalError);
  preparation.min_torch.clear();

  auto bad = cache.path() / "bad-facts.json";
  test_support::write_bytes(bad, R"({"schema": "loadmatrix.facts/1", "envs": []})");
  preparation.facts = {bad};
  try {
    prepare_envs(specs, preparation, runner, log);
    ADD_FAILURE() << "a bad facts file was accepted";
  } catch (const FatalError& e) {
    EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("created"), std::string::npos) << e.what();
  }
}
