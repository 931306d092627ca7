// A provisioned environment, ready to run things in: its spec, what it measured itself to
// be, and the sandbox that enters it. Later stages take these, never raw specs.
#pragma once

#include "envs/env_cache.h"
#include "envs/manifest.h"
#include "envs/sandbox.h"
#include "matrix/env_spec.h"
#include "runtime/shipped_files.h"

#include <string>

namespace loadmatrix {

struct Environment {
  EnvSpec spec;
  Manifest manifest;
  Sandbox sandbox;
  std::string python;   // the interpreter as seen inside the sandbox
  ShippedFiles shipped; // what loadmatrix runs inside it
  // Set for an env that is not provisioned here, known only by the measured facts in this file
  // (probes/env_facts.h): predicted for, never run in.
  std::filesystem::path facts_source;

  const Fingerprint& fingerprint() const { return manifest.fingerprint; }
  bool runs_here() const { return facts_source.empty(); }
};

// How results.json and scan.json describe an env: its name, kind and the versions and
// capabilities it measured of itself ({"name", "kind", "torch", "python", "numpy",
// "weights_only_default", "has_add_safe_globals", "allowlist_size", "cxx"}, for a pip env
// "packages": its resolved set, and for an env known only by its facts "facts": that file).
Json env_summary(const Environment& env);

// The sandbox and interpreter for a spec; for debian envs the rootfs in `cache`, for pip envs
// the venv there.
// `image_id`: a container env's measured image, run by ID (never by its tag, which may have
// moved, nor pulled); empty before it is measured.
Sandbox sandbox_for(const EnvSpec& spec, const EnvCache& cache, const ShippedFiles& shipped,
                    const std::string& image_id = "");
std::string python_for(const EnvSpec& spec);

// Where the env's installed packages (the site-packages holding its torch) are on the host: a pip
// env's venv, a debian env's rootfs, a local interpreter's own. An error for a container env,
// whose files the host does not see, or an env that measured no torch file.
Expected<std::filesystem::path> host_site_packages(const Environment& env);

// Runs `script` (a file under `runtime_dir`) with the env's interpreter in its sandbox and
// returns the report line it printed (runtime/protocol.h). The error names the env and
// what went wrong.
Expected<Json> run_runtime_script(ProcessRunner& runner, const Sandbox& sandbox,
                                  const std::filesystem::path& runtime_dir,
                                  const std::string& python, const std::string& env_name,
                                  const std::string& script,
                                  const std::vector<std::string>& args = {});

} // namespace loadmatrix
