// The pip env kind: a venv that uv makes from PyPI requirements, in the env cache, as the user
// who runs loadmatrix (no root). Layout beside the other kinds (envs/env_cache.h):
//   DIR/NAME/venv/      the venv, relocatable (`uv venv --relocatable`): made under
//                       NAME.partial-PID and renamed in, and seen inside the sandbox at
//                       kPipEnvInside
//   DIR/.uv-cache/      uv's package cache, shared by every pip env: a wheel several envs need
//                       is unpacked once and hard-linked into each venv (measured: a second venv
//                       of torch 2.5.1 from a warm cache takes 0.8 s and no disk of its own)
// PyPI's Linux x86_64 torch wheels are CUDA builds (torch plus up to 12 nvidia-* wheels, 3.4 to
// 7 GB unpacked per release, measured for 1.13-2.15: bench/README.md); they run on the CPU,
// which is all loadmatrix needs.
#pragma once

#include "matrix/env_spec.h"
#include "util/error.h"
#include "util/process.h"

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace loadmatrix {

// Where a pip env's venv appears inside its sandbox (the host sandbox binds it read-only here).
inline constexpr const char* kPipEnvInside = "/run/loadmatrix/env";

// The uv release scripts/bootstrap installs (scripts/uv-path holds the same pin; the unit test
// PipEnvTest.TheUvPinIsTheBootstrapsPin keeps them equal).
inline constexpr const char* kUvVersion = "0.13.9";

// The uv that provisions pip envs: $LOADMATRIX_UV; else the pinned uv scripts/bootstrap
// installed for this user ($XDG_DATA_HOME, else ~/.local/share, /loadmatrix/uv-VERSION/bin/uv)
// when it is there; else `uv` on PATH.
std::string uv_program();

// The venv's site-packages directories (venv/lib/pythonX.Y/site-packages), real directories
// only: a symlink there is not followed.
std::vector<std::filesystem::path> venv_site_packages(const std::filesystem::path& venv);

// The distributions installed in `venv` (normalised name -> version, from its *.dist-info
// directories, symlinks not followed). Empty when the venv has no site-packages.
std::map<std::string, std::string> installed_distributions(const std::filesystem::path& venv);

// PEP 503's normal form of a distribution name: lower case, runs of '-', '_', '.' as one '-'.
std::string normalized_distribution_name(const std::string& name);

// Which installed distribution each file of `site_packages` belongs to, from every *.dist-info's
// RECORD: path relative to site_packages -> {name (PEP 503), version}. Files no RECORD lists
// are absent; a file two RECORDs claim is absent too (no owner is guessed). A RECORD is read
// only as a regular file, not through a symlink, up to 64 MiB.
std::map<std::filesystem::path, std::pair<std::string, std::string>>
distribution_files(const std::filesystem::path& site_packages);

struct PipBuild {
  std::string uv_version; // `uv --version`, kept in the manifest
  double install_seconds = 0;
};

// Makes `venv` (a path that must not exist yet) with uv: the base interpreter spec.python, then
// spec.requirements from PyPI through the shared cache `uv_cache`, wheels only (--no-build: a
// source distribution would run its build code here, outside any sandbox, as whoever runs
// loadmatrix) except for spec.source_builds, which the matrix names because they have no wheel. uv's own environment (UV_INDEX_URL for a mirror, say) applies; its config files
// do not. The error names the env, the uv step and uv's last lines of output.
Expected<PipBuild> make_pip_venv(const EnvSpec& spec, const std::filesystem::path& venv,
                                 const std::filesystem::path& uv_cache, ProcessRunner& runner,
                                 std::chrono::milliseconds timeout,
                                 const std::function<void(const std::string&)>& log);

} // namespace loadmatrix
