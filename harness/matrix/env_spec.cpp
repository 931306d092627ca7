#include "matrix/env_spec.h"

namespace loadmatrix {

const char* env_kind_name(EnvKind kind) {
  switch (kind) {
  case EnvKind::debian:
    return "debian";
  case EnvKind::local:
    return "local";
  case EnvKind::container:
    return "container";
  case EnvKind::pip:
    return "pip";
  }
  return "unknown";
}

const std::vector<std::string>& default_debian_packages() {
  static const std::vector<std::string> packages = {"python3-torch", "libtorch-dev", "g++", "cmake",
                                                    "make"};
  return packages;
}

Json EnvSpec::identity() const {
  Json id = {{"name", name}, {"kind", env_kind_name(kind)}};
  if (kind == EnvKind::debian) {
    id["suite"] = suite;
    id["packages"] = packages;
    id["apt_options"] = apt_options;
    id["mirror"] = mirror ? Json(*mirror) : Json(nullptr);
  } else if (kind == EnvKind::pip) {
    id["python"] = python;
    id["requirements"] = requirements;
    id["source_builds"] = source_builds;
  } else {
    id["python"] = python;
    if (kind == EnvKind::container) {
      id["image"] = image;
      id["engine"] = engine;
      id["run_options"] = run_options;
      // How a missing image gets built: a changed recipe makes the image stale.
      id["from_env"] = from_env ? from_env->identity() : Json(nullptr);
      id["suite"] = suite.empty() ? Json(nullptr) : Json(suite);
      if (!suite.empty()) {
        id["packages"] = packages;
        id["apt_options"] = apt_options;
        id["mirror"] = mirror ? Json(*mirror) : Json(nullptr);
      }
    }
    id["libtorch_cmake_dir"] = libtorch_cmake_dir ? Json(*libtorch_cmake_dir) : Json(nullptr);
  }
  return id;
}

bool is_valid_env_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name.front() == '.' || name.front() == '-') {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

} // namespace loadmatrix
