// What a matrix declares about one environment. How to build and enter it lives in envs/.
#pragma once

#include "util/json_file.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace loadmatrix {

enum class EnvKind {
  debian,    // a Debian suite installed into a chroot with mmdebstrap
  local,     // an interpreter already on this machine (the host's /usr/bin/python3, a venv)
  container, // an image run by a container engine (podman, docker): envs/container_engine.h
  pip,       // a venv uv makes from PyPI requirements in the env cache (envs/pip_env.h)
};

const char* env_kind_name(EnvKind kind);

struct EnvSpec {
  std::string name;
  EnvKind kind = EnvKind::debian;
  // debian; container: the suite an image is built from when `image` does not exist yet
  std::string suite;
  std::vector<std::string> packages;
  std::vector<std::string> apt_options;
  std::optional<std::string> mirror;
  // local and container: the interpreter; pip: the venv's base interpreter, an absolute path
  // or a version uv finds ("3.11"), default /usr/bin/python3
  std::string python;
  std::optional<std::string> libtorch_cmake_dir;
  // pip: what `uv pip install` gets, e.g. {"torch==2.4.1", "numpy<2"}
  std::vector<std::string> requirements;
  // pip: the only distributions that may be built from source (on the host, outside any
  // sandbox), named because PyPI has no wheel of them: omegaconf 2.3.0's antlr4-python3-runtime
  std::vector<std::string> source_builds;
  // container
  std::string image; // e.g. localhost/loadmatrix-trixie:latest, pytorch/pytorch:2.4.1-...
  std::vector<std::string> engine; // the engine and its global options, e.g. podman --runtime runc
  std::vector<std::string> run_options; // extra options to `ENGINE run`, e.g. --gpus=all
  // The debian env whose rootfs becomes `image` when it does not exist yet (an exact copy of a
  // chroot, so both kinds run the same torch); shared because it is itself an EnvSpec.
  std::shared_ptr<const EnvSpec> from_env;

  // The fields that decide what gets built: a cached env built from other values is stale.
  Json identity() const;
};

// The base interpreter of a pip env that names none: Debian's, which the sandbox user can reach
// (a pyenv under /root, 0700, is not).
inline constexpr const char* kDefaultPipPython = "/usr/bin/python3";

// The packages a Debian env gets when the matrix names none.
const std::vector<std::string>& default_debian_packages();

bool is_valid_env_name(const std::string& name);

} // namespace loadmatrix
