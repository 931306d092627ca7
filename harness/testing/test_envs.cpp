#include "testing/test_envs.h"

#include "cli/resources.h"
#include "matrix/matrix.h"
#include "util/spawn.h"

#include <algorithm>
#include <cstdlib>
#include <unistd.h>

namespace loadmatrix::test_support {

namespace {

// The tests run Debian's four torches, also when the binary is run by hand without ctest (which
// sets this too): the default matrix's PyPI releases would be gigabytes of downloads.
const bool kDebianMatrix = [] {
  ::setenv("LOADMATRIX_MATRIX", (resources().home / "matrix" / "debian.json").c_str(), 0);
  return true;
}();

} // namespace

// The tests' matrix: matrix/debian.json unless LOADMATRIX_MATRIX names another (scripts/
// test-rootless runs the sandbox suite as an ordinary user on the envs such a user has).
std::filesystem::path test_matrix() {
  const char* chosen = std::getenv("LOADMATRIX_MATRIX");
  return chosen != nullptr && chosen[0] != '\0' ? std::filesystem::path(chosen)
                                                : resources().home / "matrix" / "debian.json";
}

std::vector<std::string> default_env_names() {
  std::vector<std::string> names;
  for (const auto& spec : load_matrix(test_matrix()).envs) {
    names.push_back(spec.name);
  }
  return names;
}

std::vector<std::string> container_env_names() {
  std::vector<std::string> names;
  for (const auto& spec : load_matrix(resources().home / "matrix" / "containers.json").envs) {
    if (spec.kind != EnvKind::container) {
      continue;
    }
    if (!find_on_path(spec.engine.front()).empty()) {
      names.push_back(spec.name);
    }
  }
  return names;
}

EnvCache test_env_cache() {
  return EnvCache(EnvCache::resolve_dir(""));
}

Environment open_test_env(const std::string& name) {
  Matrix matrix = load_matrix(test_matrix());
  Matrix containers = load_matrix(resources().home / "matrix" / "containers.json");
  const EnvSpec* found = matrix.find_env(name);
  EnvSpec spec = found != nullptr ? *found : containers.select_envs({name}).front();
  SystemProcessRunner runner;
  Provisioner provisioner(test_env_cache(), resources().shipped, runner, [](const std::string&) {});
  auto env = provisioner.open(spec);
  if (!env) {
    throw FatalError("test env not provisioned: " + env.error().message);
  }
  return *env;
}

TempDir::TempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "loadmatrix-test.XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) {
    throw FatalError("mkdtemp " + templ + ": " + std::strerror(errno));
  }
  path_ = templ;
  // The sandbox runs commands as nobody, who must be able to read what tests put here.
  std::filesystem::permissions(path_, std::filesystem::perms(0755));
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void give_to_sandbox_user(const std::filesystem::path& dir) {
  make_sandbox_writable(dir);
}

} // namespace loadmatrix::test_support
