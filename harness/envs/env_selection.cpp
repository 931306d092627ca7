#include "envs/env_selection.h"

#include "matrix/matrix.h"

#include <fmt/core.h>

namespace loadmatrix {

EnvSelection select_envs(const std::filesystem::path& matrix_path,
                         const std::filesystem::path& env_dir,
                         const std::vector<std::string>& names, EnvProvisioning provisioning,
                         ProcessRunner& runner, const Provisioner::Log& log) {
  Matrix matrix = load_matrix(matrix_path);
  EnvCache cache(env_dir);
  Provisioner provisioner(cache, runner, log);
  EnvSelection selection;
  for (const auto& spec : matrix.select_envs(names)) {
    if (provisioning == EnvProvisioning::kBuildMissing) {
      selection.envs.push_back(provisioner.provision(spec, {}).value_or_throw().environment);
      continue;
    }
    auto env = provisioner.open(spec);
    if (env) {
      selection.envs.push_back(*env);
    } else {
      selection.missing.push_back(spec.name);
      log(fmt::format("env {}: left out: {}", spec.name, env.error().message));
    }
  }
  return selection;
}

} // namespace loadmatrix
