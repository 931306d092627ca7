// What a matrix declares about one environment. How to build and enter it lives in envs/.
#pragma once

#include "util/json_file.h"

#include <optional>
#include <string>
#include <vector>

namespace loadmatrix {

enum class EnvKind {
  debian,    // a Debian suite installed into a chroot with mmdebstrap
  local,     // an interpreter already on this machine (the host's /usr/bin/python3, a venv)
  container, // a command prefix that runs things in an image (docker run ..., podman run ...)
};

const char* env_kind_name(EnvKind kind);

struct EnvSpec {
  std::string name;
  EnvKind kind = EnvKind::debian;
  // debian
  std::string suite;
  std::vector<std::string> packages;
  std::vector<std::string> apt_options;
  std::optional<std::string> mirror;
  // local and container
  std::string python;
  // container: e.g. docker run --rm -i --network=none {mounts} IMAGE
  std::vector<std::string> command;
  std::optional<std::string> libtorch_cmake_dir;

  // The fields that decide what gets built: a cached env built from other values is stale.
  Json identity() const;
};

// The packages a Debian env gets when the matrix names none.
const std::vector<std::string>& default_debian_packages();

bool is_valid_env_name(const std::string& name);

} // namespace loadmatrix
