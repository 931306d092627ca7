#include "session/sandbox_layout.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

TEST(SandboxLayoutTest, EachHostDirectoryIsFoundBothWays) {
  Sandbox chroot = Sandbox::chroot("/envs/sid/rootfs", "/bin/loadmatrix-sandbox");
  SandboxLayout layout(chroot);
  SandboxMount checkpoints = layout.add("/out/checkpoints", "checkpoints", true);
  layout.add("/src/cases/", "cases0", false);
  EXPECT_EQ(checkpoints.inside, "/loadmatrix/checkpoints");
  EXPECT_TRUE(checkpoints.writable);
  EXPECT_EQ(layout.inside("/src/cases", "recipes/a.py"), "/loadmatrix/cases0/recipes/a.py");
  EXPECT_EQ(layout.host_path("/loadmatrix/cases0/recipes/a.py"), "/src/cases/recipes/a.py");
  // A path no mount holds (a frame in the env's own torch) is the sandbox's, unchanged.
  EXPECT_EQ(layout.host_path("/usr/lib/python3/dist-packages/torch/serialization.py"),
            "/usr/lib/python3/dist-packages/torch/serialization.py");
  EXPECT_EQ(layout.host_path("/loadmatrix/cases01/x.py"), "/loadmatrix/cases01/x.py");
}

TEST(SandboxLayoutTest, ImportableDirectoriesAreOnThePythonPathInTheOrderAdded) {
  Sandbox host = Sandbox::host("/bin/loadmatrix-sandbox");
  SandboxLayout layout(host);
  layout.add("/fixtures", "fixtures", false, true);
  layout.add("/cases", "cases0", false);
  layout.add("/mine", "pythonpath0", false, true);
  EXPECT_EQ(layout.mounts().size(), 3u);
  EXPECT_EQ(layout.python_path(),
            (std::vector<std::string>{"/run/loadmatrix/fixtures", "/run/loadmatrix/pythonpath0"}));
}

TEST(SandboxLayoutTest, AFileUnderNoMountIsAnInternalError) {
  Sandbox host = Sandbox::host("/bin/loadmatrix-sandbox");
  SandboxLayout layout(host);
  layout.add("/cases", "cases0", false);
  EXPECT_THROW(layout.inside("/elsewhere", "a.py"), FatalError);
}
