// The one way a job gets its envs: the matrix's specs it asked for, each opened from the env
// cache or (when asked) built, all at once, with their C++ probes when the job runs C++ loads.
// An env that is not provisioned is named, never silently left out: scan and audit predict from
// each env's measured facts, and a report that quietly covers fewer versions than asked would
// mislead.
#pragma once

#include "envs/environment.h"
#include "matrix/env_spec.h"
#include "probes/cpp_probe_build.h"
#include "runtime/shipped_files.h"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace loadmatrix {

// Whether a job builds the envs that do not exist yet, or uses only the provisioned ones
// (naming the others).
enum class EnvProvisioning { kUseExisting, kBuildMissing };

struct EnvPreparation {
  std::filesystem::path env_dir; // the env cache
  ShippedFiles shipped;
  EnvProvisioning provisioning = EnvProvisioning::kUseExisting;
  bool cpp_probes = false; // also build (or take from the cache) each env's C++ probe
};

struct PreparedEnvs {
  std::vector<Environment> envs;    // in the specs' order
  std::vector<std::string> missing; // not provisioned (kUseExisting): named and logged
  // By env name; an env whose probe cannot be built (no libtorch) has none, and is logged.
  std::map<std::string, CppProbe> cpp_probes;
};

// Envs are built all at once: an env's build is mostly waiting on the mirror and on dpkg (a
// third waited minutes for a slot when two ran at a time: bench/README.md), and a first run on
// a fresh machine is mostly the CLI's build and env builds. Each env has its own lock in
// the cache (envs/env_cache.h), so two builds never touch one env. Throws FatalError for a
// failed provisioning.
PreparedEnvs prepare_envs(const std::vector<EnvSpec>& specs, const EnvPreparation& preparation,
                          ProcessRunner& runner, const ProgressLog& log);

} // namespace loadmatrix
