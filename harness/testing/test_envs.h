// The real environments the tests run in: those of LOADMATRIX_MATRIX, which is
// matrix/debian.json (Debian's four torches) unless set otherwise (scripts/test-rootless: the
// envs an ordinary user has), from the env cache (LOADMATRIX_ENV_DIR or the default).
// scripts/test provisions them before ctest runs.
#pragma once

#include "envs/provisioner.h"

#include <string>
#include <vector>

namespace loadmatrix::test_support {

std::vector<std::string> default_env_names();
// The container envs of matrix/containers.json (images made from a default env's rootfs), when
// this machine has a container engine; scripts/test provisions them too. Empty without one.
std::vector<std::string> container_env_names();
EnvCache test_env_cache();
// The ready env of either matrix, or a test failure explaining how to provision it.
Environment open_test_env(const std::string& name);

// A fresh directory under the build's temp area, removed by the destructor.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

// Gives the directory to `nobody` so sandboxed commands can write to it.
void give_to_sandbox_user(const std::filesystem::path& dir);

} // namespace loadmatrix::test_support
