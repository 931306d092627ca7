#include "session/env_preparation.h"

#include "envs/provisioner.h"
#include "probes/env_facts.h"
#include "util/parallel.h"
#include "util/version_key.h"

#include <fmt/core.h>
#include <optional>

namespace loadmatrix {

PreparedEnvs prepare_envs(const std::vector<EnvSpec>& specs, const EnvPreparation& preparation,
                          ProcessRunner& runner, const ProgressLog& log) {
  EnvCache cache(preparation.env_dir);
  std::vector<std::optional<Environment>> opened(specs.size());
  std::vector<FactsFile> facts;
  for (const auto& path : preparation.facts) {
    auto file = read_facts_file(path);
    if (!file) {
      throw FatalError(file.error().message);
    }
    facts.push_back(std::move(file).value());
  }
  std::vector<std::string> unprovisioned(specs.size());
  std::vector<std::optional<CppProbe>> probes(specs.size());
  for_each_on_own_thread(specs.size(), specs.size(), [&](size_t i) {
    const EnvSpec& spec = specs[i];
    Provisioner provisioner(cache, preparation.shipped, runner, log);
    if (preparation.provisioning == EnvProvisioning::kBuildMissing) {
      opened[i] = provisioner.provision(spec, {}).value_or_throw().environment;
    } else if (auto env = provisioner.open(spec)) {
      opened[i] = std::move(env).value();
    } else {
      unprovisioned[i] = env.error().message;
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
  // torch's own versions ("2.6.0+cu124", "1.7.0a0") compare by their numeric fields.
  auto too_old = [&](const Fingerprint& fp) {
    return !preparation.min_torch.empty() &&
           version_key(fp.torch) < version_key(preparation.min_torch);
  };
  for (size_t i = 0; i < specs.size(); ++i) {
    if (opened[i] && too_old(opened[i]->fingerprint())) {
      log(fmt::format("env {}: torch {} is older than --min-torch {}: left out", specs[i].name,
                      opened[i]->fingerprint().torch, preparation.min_torch));
      continue;
    }
    if (!opened[i]) {
      const EnvSpec& spec = specs[i];
      const EnvFacts* found = nullptr;
      size_t file = 0;
      for (; file < facts.size() && !found; ++file) {
        found = facts[file].find(spec);
      }
      if (!found) {
        log(fmt::format("env {}: left out: {}", spec.name, unprovisioned[i]));
        prepared.missing.push_back(spec.name);
        continue;
      }
      if (too_old(found->manifest.fingerprint)) {
        continue; // below what the project supports: quietly, as no env is missing
      }
      const auto& source = preparation.facts[file - 1];
      log(fmt::format("env {}: not provisioned here; predicted from torch {}'s measured facts "
                      "({}), nothing loaded",
                      spec.name, found->manifest.fingerprint.torch, source.string()));
      prepared.envs.push_back(environment_from_facts(spec, *found, source, preparation.shipped));
      prepared.facts_globals[spec.name] = found->globals;
      continue;
    }
    prepared.envs.push_back(std::move(*opened[i]));
    if (probes[i]) {
      prepared.cpp_probes[specs[i].name] = std::move(*probes[i]);
    }
  }
  if (!preparation.min_torch.empty() && prepared.envs.empty() && prepared.missing.empty() &&
      !specs.empty()) {
    // A hook that judged nothing would pass everything.
    throw FatalError(fmt::format("--min-torch {}: every env of the selection has an older torch; "
                                 "nothing would be judged",
                                 preparation.min_torch));
  }
  return prepared;
}

} // namespace loadmatrix
