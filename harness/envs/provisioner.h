// Builds the environments a matrix declares, once: debian envs with mmdebstrap into a
// temporary directory renamed into place only when complete; pip envs with uv the same way
// (envs/pip_env.h); local envs by fingerprinting
// the interpreter; container envs by fingerprinting the image, made first from its recipe
// (a debian env's rootfs, or a suite) when the engine does not have it. Either way the result
// is a manifest measured from inside the env.
#pragma once

#include "envs/environment.h"
#include "util/process.h"

#include <chrono>
#include <functional>
#include <string>

namespace loadmatrix {

struct ProvisionOptions {
  bool force = false; // rebuild even when ready
  std::chrono::milliseconds build_timeout{std::chrono::minutes(30)};
  std::string mmdebstrap = "mmdebstrap"; // tests point this at a fake builder
};

struct ProvisionOutcome {
  Environment environment;
  bool built = false;      // false: the cached env was ready and reused
  bool remeasured = false; // built: only fingerprint.py ran again, on the kept rootfs
};

class Provisioner {
public:
  using Log = std::function<void(const std::string&)>;

  // `shipped`: what the envs it makes run (their sandbox's PID 1, fingerprint.py).
  Provisioner(EnvCache cache, ShippedFiles shipped, ProcessRunner& runner, Log log)
      : cache_(std::move(cache)), shipped_(std::move(shipped)), runner_(runner),
        log_(std::move(log)) {}

  Expected<ProvisionOutcome> provision(const EnvSpec& spec, const ProvisionOptions& options);
  // What the cache holds for `spec`, and for a container env whether the engine still has the
  // image that was measured (a re-pulled or deleted image makes it stale).
  EnvState inspect(const EnvSpec& spec) const;
  // A ready env without building anything; an error says how to provision it.
  Expected<Environment> open(const EnvSpec& spec) const;

  const EnvCache& cache() const { return cache_; }

private:
  Expected<Manifest> build_debian(const EnvSpec& spec, const ProvisionOptions& options);
  Expected<Manifest> fingerprint_existing(const EnvSpec& spec);
  Expected<ProvisionOutcome> provision_container(const EnvSpec& spec,
                                                 const ProvisionOptions& options, EnvState state);
  Expected<void> build_image(const EnvSpec& spec, const ContainerEngine& engine,
                             const ProvisionOptions& options);
  Expected<Manifest> build_pip(const EnvSpec& spec, const ProvisionOptions& options);
  Expected<Manifest> remeasure_built(const EnvSpec& spec, Manifest previous);
  // The env `manifest` describes, as this provisioner's shipped files run it.
  Environment environment(const EnvSpec& spec, Manifest manifest) const;
  // A manifest for `spec` whose fingerprint fingerprint.py measured inside `sandbox`.
  Expected<Manifest> measure(const EnvSpec& spec, const Sandbox& sandbox);

  EnvCache cache_;
  ShippedFiles shipped_;
  ProcessRunner& runner_;
  Log log_;
};

} // namespace loadmatrix
