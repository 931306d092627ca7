#include "envs/pip_env.h"

#include "util/json_file.h"
#include "util/text.h"

#include <cstdlib>
#include <fmt/core.h>
#include <sstream>

namespace loadmatrix {

std::string uv_program() {
  if (const char* uv = std::getenv("LOADMATRIX_UV"); uv != nullptr && *uv != '\0') {
    return uv;
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

std::string requirement_name(const std::string& requirement) {
  auto begin = requirement.find_first_not_of(' ');
  if (begin == std::string::npos) {
    return "";
  }
  auto end = begin;
  while (end < requirement.size()) {
    char c = requirement[end];
    bool part = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.';
    if (!part) {
      break;
    }
    ++end;
  }
  return normalized_distribution_name(requirement.substr(begin, end - begin));
}

std::map<std::string, std::string> installed_distributions(const std::filesystem::path& venv) {
  std::map<std::string, std::string> installed;
  std::error_code ec;
  for (const auto& lib : std::filesystem::directory_iterator(venv / "lib", ec)) {
    std::error_code inner;
    for (const auto& entry :
         std::filesystem::directory_iterator(lib.path() / "site-packages", inner)) {
      // NAME-VERSION.dist-info: wheel names escape '-' in NAME to '_', and versions hold none.
      std::string file = entry.path().filename().string();
      if (!file.ends_with(".dist-info")) {
        continue;
      }
      std::string stem = file.substr(0, file.size() - std::string(".dist-info").size());
      auto dash = stem.find('-');
      if (dash == std::string::npos || dash == 0 || dash + 1 == stem.size()) {
        continue;
      }
      installed[normalized_distribution_name(stem.substr(0, dash))] = stem.substr(dash + 1);
    }
  }
  return installed;
}

std::map<std::filesystem::path, std::pair<std::string, std::string>>
distribution_files(const std::filesystem::path& site_packages) {
  std::map<std::filesystem::path, std::pair<std::string, std::string>> owners;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(site_packages, ec)) {
    std::string dir = entry.path().filename().string();
    if (!dir.ends_with(".dist-info")) {
      continue;
    }
    std::string stem = dir.substr(0, dir.size() - std::string(".dist-info").size());
    auto dash = stem.find('-');
    if (dash == std::string::npos) {
      continue;
    }
    std::pair<std::string, std::string> owner{normalized_distribution_name(stem.substr(0, dash)),
                                              stem.substr(dash + 1)};
    auto record = read_text_file(entry.path() / "RECORD");
    if (!record) {
      continue;
    }
    // RECORD is CSV: PATH,HASH,SIZE; a path with a comma is quoted, and none of ours matter.
    std::istringstream lines(*record);
    for (std::string line; std::getline(lines, line);) {
      auto comma = line.find(',');
      if (comma == std::string::npos || line.starts_with('"')) {
        continue;
      }
      owners[std::filesystem::path(line.substr(0, comma)).lexically_normal()] = owner;
    }
  }
  return owners;
}

Expected<PipBuild> make_pip_venv(const EnvSpec& spec, const std::filesystem::path& venv,
                                 const std::filesystem::path& uv_cache, ProcessRunner& runner,
                                 std::chrono::milliseconds timeout,
                                 const std::function<void(const std::string&)>& log) {
  // uv reads no config of the user's or the checkout's and never downloads an interpreter: the
  // env is what the matrix says, from PyPI, on an interpreter of this machine.
  const std::vector<std::string> env = {"UV_CACHE_DIR=" + uv_cache.string(),
                                        "UV_PYTHON_DOWNLOADS=never", "UV_NO_CONFIG=1",
                                        "UV_LINK_MODE=hardlink", "VIRTUAL_ENV="};
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
  install.insert(install.end(), spec.requirements.begin(), spec.requirements.end());
  if (auto installed = step(install, "uv pip install"); !installed) {
    return installed.error();
  }
  build.install_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return build;
}

} // namespace loadmatrix
