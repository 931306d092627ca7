// The one way a job gets its envs: the matrix's specs it asked for, each opened from the env
// cache or (when asked) built, all at once, with their C++ probes when the job runs C++ loads.
// An env that is not provisioned is named, never silently left out: scan and audit predict from
// each env's measured facts, and a report that quietly covers fewer versions than asked would
// mislead.
#pragma once

#include "envs/environment.h"
#include "matrix/env_spec.h"
#include "probes/cpp_probe_build.h"
#include "probes/global_resolution.h"
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
  // Measured facts (probes/env_facts.h) standing in for envs that are not provisioned, first
  // match wins (scan and audit predict from them; run, which loads, never sets this). A file that
  // cannot be read is a FatalError naming it.
  std::vector<std::filesystem::path> facts;
  // "2.1": envs whose measured torch is older are left out (and logged); "" keeps every env.
  std::string min_torch;
};

struct PreparedEnvs {
  // In the specs' order; an env known only by its facts has Environment::facts_source set.
  std::vector<Environment> envs;
  std::vector<std::string> missing; // neither provisioned (kUseExisting) nor in the facts: logged
  // What each facts-only env answered about globals at export, by env name.
  std::map<std::string, ResolvedGlobals> facts_globals;
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
