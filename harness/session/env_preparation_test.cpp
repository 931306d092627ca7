#include "cli/resources.h"
#include "session/env_preparation.h"
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
  EnvPreparation preparation{cache.path(), resources().shipped, EnvProvisioning::kUseExisting,
                             true};
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
