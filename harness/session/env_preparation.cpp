#include "session/env_preparation.h"

#include "envs/provisioner.h"
#include "util/parallel.h"

#include <fmt/core.h>
#include <optional>

namespace loadmatrix {

PreparedEnvs prepare_envs(const std::vector<EnvSpec>& specs, const EnvPreparation& preparation,
                          ProcessRunner& runner, const ProgressLog& log) {
  EnvCache cache(preparation.env_dir);
  std::vector<std::optional<Environment>> opened(specs.size());
  std::vector<std::optional<CppProbe>> probes(specs.size());
  for_each_on_own_thread(specs.size(), specs.size(), [&](size_t i) {
    const EnvSpec& spec = specs[i];
    Provisioner provisioner(cache, preparation.shipped, runner, log);
    if (preparation.provisioning == EnvProvisioning::kBuildMissing) {
      opened[i] = provisioner.provision(spec, {}).value_or_throw().environment;
    } else if (auto env = provisioner.open(spec)) {
      opened[i] = std::move(env).value();
    } else {
      log(fmt::format("env {}: left out: {}", spec.name, env.error().message));
      return;
    }
    if (!preparation.cpp_probes) {
      return;
    }
    if (auto probe = ensure_cpp_probe(*opened[i], cache, runner, log)) {
      probes[i] = *probe;
    } else {
      log(fmt::format("env {}: C++ modes will be unsupported: {}", spec.name,
                      probe.error().message));
    }
  });
  PreparedEnvs prepared;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!opened[i]) {
      prepared.missing.push_back(specs[i].name);
      continue;
    }
    prepared.envs.push_back(std::move(*opened[i]));
    if (probes[i]) {
      prepared.cpp_probes[specs[i].name] = std::move(*probes[i]);
    }
  }
  return prepared;
}

} // namespace loadmatrix
