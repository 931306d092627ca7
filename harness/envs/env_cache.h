// Where provisioned environments live: outside the repository, shared by every run and CI
// job on the machine. Layout:
//   DIR/NAME/manifest.json   an env is ready exactly when this exists (it is renamed in last)
//   DIR/NAME/rootfs/         the chroot of a debian env
//   DIR/NAME/venv/           the venv of a pip env; DIR/.uv-cache/ its shared package cache
//                            (envs/pip_env.h)
//   DIR/NAME.partial-PID/    a build in progress or interrupted; never read as an env
//   DIR/probes/NAME/KEY/     the C++ probe built in NAME, KEY = hash of manifest + sources
//   DIR/probes/NAME/globals.json  which globals NAME resolves (probes/global_resolution.h)
#pragma once

#include "envs/manifest.h"
#include "matrix/env_spec.h"

#include <filesystem>
#include <optional>
#include <string>

namespace loadmatrix {

enum class EnvStatus {
  ready,   // manifest present and built from the spec the matrix declares now
  missing, // never built (or the cache was deleted)
  stale,   // built from another spec, a local torch changed, a pip venv's packages changed, or
           // measured by an older script
  broken,  // manifest unreadable or the rootfs gone; provisioning rebuilds it
};

const char* env_status_name(EnvStatus status);

struct EnvState {
  EnvStatus status = EnvStatus::missing;
  std::optional<Manifest> manifest;
  std::string detail; // why stale or broken
  // Stale only because an older fingerprint.py measured it: measuring again is enough.
  bool remeasure_only = false;
};

class EnvCache {
public:
  explicit EnvCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // --env-dir, else $LOADMATRIX_ENV_DIR, else $XDG_CACHE_HOME/loadmatrix/envs, else
  // ~/.cache/loadmatrix/envs.
  static std::filesystem::path resolve_dir(const std::string& flag_value);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path env_dir(const std::string& name) const { return dir_ / name; }
  std::filesystem::path manifest_path(const std::string& name) const {
    return env_dir(name) / "manifest.json";
  }
  std::filesystem::path rootfs(const std::string& name) const { return env_dir(name) / "rootfs"; }
  std::filesystem::path venv(const std::string& name) const { return env_dir(name) / "venv"; }
  // On the cache's own file system, so venvs hard-link what it holds.
  std::filesystem::path uv_cache() const { return dir_ / ".uv-cache"; }
  std::filesystem::path probes_dir(const std::string& name) const { return dir_ / "probes" / name; }
  std::filesystem::path globals_cache(const std::string& name) const {
    return probes_dir(name) / "globals.json";
  }

  EnvState inspect(const EnvSpec& spec) const;

private:
  std::filesystem::path dir_;
};

// An exclusive lock on DIR/NAME.lock for as long as it lives, so two runs that provision the
// same env at once build it once.
class EnvLock {
public:
  EnvLock(const EnvCache& cache, const std::string& name);
  ~EnvLock();
  EnvLock(const EnvLock&) = delete;
  EnvLock& operator=(const EnvLock&) = delete;

private:
  int fd_ = -1;
};

long long file_mtime_ns(const std::filesystem::path& path);

} // namespace loadmatrix
