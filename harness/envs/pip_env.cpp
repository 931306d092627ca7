#include "envs/pip_env.h"

#include "util/file_contents.h"
#include "util/text.h"

#include <algorithm>
#include <cstdlib>
#include <fmt/core.h>
#include <optional>
#include <set>
#include <sstream>
#include <unistd.h>

namespace loadmatrix {

std::string uv_program() {
  if (const char* uv = std::getenv("LOADMATRIX_UV"); uv != nullptr && *uv != '\0') {
    return uv;
  }
  const char* xdg = std::getenv("XDG_DATA_HOME");
  const char* home = std::getenv("HOME");
  std::filesystem::path data = xdg != nullptr && *xdg != '\0' ? std::filesystem::path(xdg)
                               : home != nullptr && *home != '\0'
                                   ? std::filesystem::path(home) / ".local" / "share"
                                   : std::filesystem::path();
  if (!data.empty()) {
    auto pinned = data / "loadmatrix" / (std::string("uv-") + kUvVersion) / "bin" / "uv";
    if (::access(pinned.c_str(), X_OK) == 0) {
      return pinned.string();
    }
  }
  return "uv";
}

std::string normalized_distribution_name(const std::string& name) {
  std::string normal;
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      if (!normal.empty() && normal.back() != '-') {
        normal.push_back('-');
      }
    } else {
      normal.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    }
  }
  while (!normal.empty() && normal.back() == '-') {
    normal.pop_back();
  }
  return normal;
}

std::vector<std::filesystem::path> venv_site_packages(const std::filesystem::path& venv) {
  std::vector<std::filesystem::path> sites;
  std::error_code ec;
  if (!std::filesystem::is_directory(std::filesystem::symlink_status(venv / "lib", ec))) {
    return sites;
  }
  for (const auto& lib : std::filesystem::directory_iterator(venv / "lib", ec)) {
    auto site = lib.path() / "site-packages";
    std::error_code inner;
    if (std::filesystem::is_directory(std::filesystem::symlink_status(lib.path(), inner)) &&
        std::filesystem::is_directory(std::filesystem::symlink_status(site, inner))) {
      sites.push_back(site);
    }
  }
  std::sort(sites.begin(), sites.end());
  return sites;
}

namespace {

// NAME-VERSION.dist-info, a real directory: wheel names escape '-' in NAME to '_', and versions
// hold none.
std::optional<std::pair<std::string, std::string>>
dist_info(const std::filesystem::directory_entry& entry) {
  std::string file = entry.path().filename().string();
  std::error_code ec;
  if (!file.ends_with(".dist-info") || !entry.is_directory(ec) || entry.is_symlink(ec)) {
    return std::nullopt;
  }
  std::string stem = file.substr(0, file.size() - std::string(".dist-info").size());
  auto dash = stem.find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == stem.size()) {
    return std::nullopt;
  }
  return std::pair{normalized_distribution_name(stem.substr(0, dash)), stem.substr(dash + 1)};
}

} // namespace

std::map<std::string, std::string> installed_distributions(const std::filesystem::path& venv) {
  std::map<std::string, std::string> installed;
  for (const auto& site : venv_site_packages(venv)) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(site, ec)) {
      if (auto found = dist_info(entry)) {
        installed[found->first] = found->second;
      }
    }
  }
  return installed;
}

std::map<std::filesystem::path, std::pair<std::string, std::string>>
distribution_files(const std::filesystem::path& site_packages) {
  constexpr size_t kRecordLimit = 64u << 20;
  std::map<std::filesystem::path, std::pair<std::string, std::string>> owners;
  std::set<std::filesystem::path> disputed;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(site_packages, ec)) {
    auto owner = dist_info(entry);
    auto record_path = entry.path() / "RECORD";
    std::error_code inner;
    if (!owner ||
        !std::filesystem::is_regular_file(std::filesystem::symlink_status(record_path, inner))) {
      continue;
    }
    auto record = FileContents::open(record_path);
    if (!record || (*record)->bytes().size() > kRecordLimit) {
      continue;
    }
    // RECORD is CSV: PATH,HASH,SIZE; a quoted path (one holding a comma) is skipped.
    std::istringstream lines{std::string((*record)->bytes())};
    for (std::string line; std::getline(lines, line);) {
      auto comma = line.find(',');
      if (comma == std::string::npos || comma == 0 || line.starts_with('"')) {
        continue;
      }
      auto file = std::filesystem::path(line.substr(0, comma)).lexically_normal();
      auto [it, inserted] = owners.emplace(file, *owner);
      if (!inserted && it->second != *owner) {
        disputed.insert(file);
      }
    }
  }
  for (const auto& file : disputed) {
    owners.erase(file);
  }
  return owners;
}

Expected<PipBuild> make_pip_venv(const EnvSpec& spec, const std::filesystem::path& venv,
                                 const std::filesystem::path& uv_cache, ProcessRunner& runner,
                                 std::chrono::milliseconds timeout,
                                 const std::function<void(const std::string&)>& log) {
  // uv reads no config file of the user's or the checkout's, builds from source only what the
  // matrix names and never downloads an interpreter: the env is what the matrix says, as wheels
  // from the index, on an interpreter of this machine.
  const std::vector<std::string> env = {"UV_CACHE_DIR=" + uv_cache.string(),
                                        "UV_PYTHON_DOWNLOADS=never",
                                        "UV_NO_CONFIG=1",
                                        "UV_LINK_MODE=hardlink",
                                        "VIRTUAL_ENV="};
  auto step = [&](std::vector<std::string> argv, const char* what) -> Expected<ProcessResult> {
    ProcessSpec process;
    process.argv = std::move(argv);
    process.env = env;
    process.timeout = timeout;
    process.output_limit = 4 << 20;
    ProcessResult result = runner.run(process);
    if (!result.succeeded()) {
      return Error{fmt::format("env {}: {} failed ({}):\n  {}", spec.name, what, result.describe(),
                               last_lines(result.stderr_text + result.stdout_text, 8))};
    }
    return result;
  };
  PipBuild build;
  auto version = step({uv_program(), "--version"}, "uv --version (scripts/bootstrap installs "
                                                   "uv; LOADMATRIX_UV names another)");
  if (!version) {
    return version.error();
  }
  build.uv_version = trim(version->stdout_text);
  auto started = std::chrono::steady_clock::now();
  if (auto made = step({uv_program(), "venv", "--quiet", "--relocatable", "--python", spec.python,
                        venv.string()},
                       "uv venv");
      !made) {
    return made.error();
  }
  log(fmt::format("env {}: installing {} with uv from PyPI (the shared cache {} keeps every "
                  "wheel once)",
                  spec.name, join(spec.requirements, " "), uv_cache.string()));
  std::vector<std::string> install = {uv_program(), "pip", "install", "--quiet", "--python",
                                      (venv / "bin" / "python").string()};
  if (spec.source_builds.empty()) {
    install.push_back("--no-build");
  } else {
    // Wheels for everything (resolution runs no package's code) but the distributions the
    // matrix names, which have none.
    install.insert(install.end(), {"--only-binary", ":all:"});
    for (const auto& name : spec.source_builds) {
      install.insert(install.end(), {"--no-binary", name});
    }
  }
  install.insert(install.end(), spec.requirements.begin(), spec.requirements.end());
  if (auto installed = step(install, "uv pip install"); !installed) {
    return installed.error();
  }
  build.install_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return build;
}

} // namespace loadmatrix
