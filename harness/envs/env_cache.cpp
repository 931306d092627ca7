#include "envs/env_cache.h"

#include "envs/pip_env.h"
#include "util/text.h"

#include <cstdlib>
#include <fcntl.h>
#include <fmt/core.h>
#include <optional>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace loadmatrix {

const char* env_status_name(EnvStatus status) {
  switch (status) {
  case EnvStatus::ready:
    return "ready";
  case EnvStatus::missing:
    return "missing";
  case EnvStatus::stale:
    return "stale";
  case EnvStatus::broken:
    return "broken";
  }
  return "unknown";
}

std::filesystem::path EnvCache::resolve_dir(const std::string& flag_value) {
  if (!flag_value.empty()) {
    return std::filesystem::absolute(flag_value);
  }
  if (const char* dir = std::getenv("LOADMATRIX_ENV_DIR"); dir != nullptr && *dir != '\0') {
    return std::filesystem::absolute(dir);
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::filesystem::path(xdg) / "loadmatrix" / "envs";
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') {
    throw FatalError("cannot place the env cache: HOME is unset (use --env-dir or "
                     "LOADMATRIX_ENV_DIR)");
  }
  return std::filesystem::path(home) / ".cache" / "loadmatrix" / "envs";
}

long long file_mtime_ns(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return -1;
  }
  return static_cast<long long>(info.st_mtim.tv_sec) * 1000000000LL + info.st_mtim.tv_nsec;
}

namespace {

// What changed in a pip venv since it was provisioned (someone ran pip in it), for `envs list`;
// nothing when the installed set is the resolved one.
std::optional<std::string> pip_drift(const std::map<std::string, std::string>& resolved,
                                     const std::map<std::string, std::string>& installed) {
  std::vector<std::string> changes;
  for (const auto& [name, version] : installed) {
    auto was = resolved.find(name);
    if (was == resolved.end()) {
      changes.push_back(fmt::format("+{} {}", name, version));
    } else if (was->second != version) {
      changes.push_back(fmt::format("{} {} -> {}", name, was->second, version));
    }
  }
  for (const auto& [name, version] : resolved) {
    if (!installed.contains(name)) {
      changes.push_back(fmt::format("-{} {}", name, version));
    }
  }
  if (changes.empty()) {
    return std::nullopt;
  }
  return "its packages changed since it was provisioned: " + join(changes, ", ");
}

} // namespace

EnvState EnvCache::inspect(const EnvSpec& spec) const {
  EnvState state;
  std::error_code ec;
  if (!std::filesystem::exists(manifest_path(spec.name), ec)) {
    return state;
  }
  auto document = read_json_file(manifest_path(spec.name));
  if (!document) {
    state.status = EnvStatus::broken;
    state.detail = document.error().message;
    return state;
  }
  auto manifest = Manifest::from_json(*document, manifest_path(spec.name).string());
  if (!manifest) {
    state.status = EnvStatus::broken;
    state.detail = manifest.error().message;
    return state;
  }
  state.manifest = std::move(manifest).value();
  state.status = EnvStatus::ready;
  if (state.manifest->spec != spec.identity()) {
    state.status = EnvStatus::stale;
    state.detail = "the matrix declares this env differently from when it was built";
  } else if (spec.kind == EnvKind::debian && !std::filesystem::is_directory(rootfs(spec.name))) {
    state.status = EnvStatus::broken;
    state.detail = rootfs(spec.name).string() + ": missing";
  } else if (spec.kind == EnvKind::pip && !std::filesystem::is_directory(venv(spec.name))) {
    state.status = EnvStatus::broken;
    state.detail = venv(spec.name).string() + ": missing";
  } else if (auto drift =
                 spec.kind == EnvKind::pip
                     ? pip_drift(state.manifest->packages, installed_distributions(venv(spec.name)))
                     : std::nullopt) {
    state.status = EnvStatus::stale;
    state.detail = *drift;
  } else if (spec.kind == EnvKind::local && file_mtime_ns(state.manifest->fingerprint.torch_file) !=
                                                state.manifest->torch_mtime.value_or(-2)) {
    state.status = EnvStatus::stale;
    state.detail = state.manifest->fingerprint.torch_file + " changed since it was fingerprinted";
  } else if (state.manifest->fingerprint.version < kFingerprintVersion) {
    state.status = EnvStatus::stale;
    state.detail = fmt::format("measured by fingerprint version {}, now {}",
                               state.manifest->fingerprint.version, kFingerprintVersion);
    state.remeasure_only = true;
  }
  return state;
}

EnvLock::EnvLock(const EnvCache& cache, const std::string& name) {
  std::filesystem::create_directories(cache.dir());
  auto path = cache.dir() / (name + ".lock");
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw FatalError(fmt::format("open {}: {}", path.string(), std::strerror(errno)));
  }
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      throw FatalError(fmt::format("flock {}: {}", path.string(), std::strerror(errno)));
    }
  }
}

EnvLock::~EnvLock() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

} // namespace loadmatrix
