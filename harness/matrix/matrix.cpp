#include "matrix/matrix.h"

#include <algorithm>
#include <cstring>
#include <fmt/core.h>
#include <optional>
#include <set>

namespace loadmatrix {

namespace {

// What run_options may hold: resources and the limits an engine or a GPU needs, each as one
// "--flag=value" token. Everything else is refused rather than screened, because the engines
// accept too many spellings of what would undo the sandbox (combined short flags such as
// -iv/:/host, --env-host, --init, --rootfs, --pod, ...).
std::optional<std::string> refused_run_option(const std::string& option) {
  static const char* const kAllowed[] = {
      "--ulimit",     "--memory", "--memory-swap", "--cpus",     "--cpuset-cpus",
      "--pids-limit", "--gpus",   "--platform",    "--shm-size", "--stop-timeout"};
  std::string names;
  for (const char* allowed : kAllowed) {
    std::string flag = allowed;
    if (option.starts_with(flag + "=") && option.size() > flag.size() + 1) {
      return std::nullopt;
    }
    if (option == flag || option == flag + "=" || option.starts_with(flag + " ")) {
      return fmt::format("needs its value in the same element: \"{}=VALUE\"", flag);
    }
    names += (names.empty() ? "" : ", ") + flag;
  }
  return fmt::format("is not one of the run options loadmatrix passes on, each as "
                     "--flag=value: {} (the rest it sets itself to keep the container "
                     "sandboxed: network off, only its own mounts, nobody, no capabilities, "
                     "read-only root)",
                     names);
}

// What mmdebstrap installs: a debian env's chroot, or a container env's image.
void read_debian_recipe(const JsonFieldReader& reader, EnvSpec& spec) {
  spec.suite = reader.required_string("suite");
  spec.packages = reader.optional_string_list("packages");
  if (spec.packages.empty()) {
    spec.packages = default_debian_packages();
  }
  spec.apt_options = reader.optional_string_list("apt_options");
  if (reader.has("mirror")) {
    spec.mirror = reader.required_string("mirror");
  }
}

// Requirements go to `uv pip install` as arguments: one that starts with '-' would be an
// option (another index, a requirements file), so it is refused here.
void read_pip_recipe(const JsonFieldReader& reader, EnvSpec& spec) {
  spec.requirements = reader.optional_string_list("requirements");
  if (spec.requirements.empty()) {
    reader.fail("requirements", "expected a non-empty list of requirements, e.g. "
                                "[\"torch==2.4.1\", \"numpy<2\"]");
  }
  for (const auto& requirement : spec.requirements) {
    bool control = std::any_of(requirement.begin(), requirement.end(), [](char c) {
      return static_cast<unsigned char>(c) < ' ' || c == 0x7f;
    });
    auto first = requirement.find_first_not_of(' ');
    // A direct reference ("pkg @ https://...", a path) would fetch or build whatever it names.
    bool reference = requirement.find('@') != std::string::npos ||
                     requirement.find("://") != std::string::npos ||
                     requirement.find('/') != std::string::npos;
    if (first == std::string::npos || requirement[first] == '-' || control || reference) {
      reader.fail("requirements",
                  fmt::format("'{}' is not a requirement (a name with an optional version, "
                              "e.g. torch==2.4.1; options such as -r or --index-url, URLs and "
                              "paths are refused)",
                              requirement));
    }
  }
  spec.source_builds = reader.optional_string_list("source_builds");
  for (const auto& name : spec.source_builds) {
    bool plain = !name.empty() && name.front() != '-' &&
                 std::all_of(name.begin(), name.end(), [](char c) {
                   return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
                 });
    if (!plain) {
      reader.fail("source_builds",
                  fmt::format("'{}' is not a distribution name (e.g. antlr4-python3-runtime)",
                              name));
    }
  }
  spec.python = reader.optional_string("python", kDefaultPipPython);
  bool version = !spec.python.empty() &&
                 std::all_of(spec.python.begin(), spec.python.end(),
                             [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  if (!version && !spec.python.starts_with('/')) {
    reader.fail("python", fmt::format("'{}' must be an absolute path to the venv's base "
                                      "interpreter or a version such as 3.11",
                                      spec.python));
  }
}

EnvSpec parse_env(const Json& entry, const std::string& origin, const std::string& path) {
  JsonFieldReader reader(entry, origin, path);
  EnvSpec spec;
  spec.name = reader.required_string("name");
  if (!is_valid_env_name(spec.name)) {
    reader.fail("name", fmt::format("'{}' is not a valid env name (letters, digits, '-', '_', "
                                    "'.'; at most 64; not starting with '.' or '-')",
                                    spec.name));
  }
  std::string kind = reader.required_string("kind");
  if (kind == "debian") {
    reader.reject_unknown_keys(
        {"name", "kind", "description", "suite", "packages", "apt_options", "mirror"});
    spec.kind = EnvKind::debian;
    read_debian_recipe(reader, spec);
  } else if (kind == "local") {
    reader.reject_unknown_keys({"name", "kind", "description", "python", "libtorch_cmake_dir"});
    spec.kind = EnvKind::local;
    spec.python = reader.required_string("python");
    if (!spec.python.starts_with('/')) {
      reader.fail("python",
                  fmt::format("'{}' must be an absolute path to an interpreter", spec.python));
    }
    if (reader.has("libtorch_cmake_dir")) {
      spec.libtorch_cmake_dir = reader.required_string("libtorch_cmake_dir");
    }
  } else if (kind == "pip") {
    reader.reject_unknown_keys(
        {"name", "kind", "description", "requirements", "source_builds", "python"});
    spec.kind = EnvKind::pip;
    read_pip_recipe(reader, spec);
  } else if (kind == "container") {
    if (reader.has("command")) {
      reader.fail("command", "a container env now names its image and engine instead of a "
                             "command prefix: {\"image\": \"IMAGE\", \"engine\": [\"podman\"]} "
                             "(doc/envs.md, \"Env kinds\")");
    }
    reader.reject_unknown_keys({"name", "kind", "description", "image", "engine", "run_options",
                                "python", "libtorch_cmake_dir", "from_env", "suite", "packages",
                                "apt_options", "mirror"});
    spec.kind = EnvKind::container;
    spec.image = reader.required_string("image");
    bool blank = std::any_of(spec.image.begin(), spec.image.end(), [](char c) {
      return static_cast<unsigned char>(c) <= ' ' || c == 0x7f;
    });
    if (spec.image.empty() || spec.image.front() == '-' || blank) {
      reader.fail("image", fmt::format("'{}' is not an image reference (e.g. "
                                       "docker.io/pytorch/pytorch:2.4.1-cuda12.1-cudnn9-runtime)",
                                       spec.image));
    }
    if (reader.has("engine") && reader.optional_string_list("engine").empty()) {
      reader.fail("engine", "empty; leave it out for [\"podman\"]");
    }
    spec.engine = reader.optional_string_list("engine");
    if (spec.engine.empty()) {
      spec.engine = {"podman"};
    }
    if (spec.engine.front().empty() || spec.engine.front().front() == '-') {
      reader.fail("engine", "the first element must name the engine's program, e.g. \"podman\"");
    }
    spec.run_options = reader.optional_string_list("run_options");
    for (const auto& option : spec.run_options) {
      if (auto why = refused_run_option(option)) {
        reader.fail("run_options", fmt::format("'{}' {}", option, *why));
      }
    }
    spec.python = reader.optional_string("python", "python3");
    if (spec.python.empty() ||
        (!spec.python.starts_with('/') && spec.python.find('/') != std::string::npos)) {
      reader.fail("python", fmt::format("'{}' must be an absolute path inside the image or a name "
                                        "on its PATH (e.g. /opt/conda/bin/python, python3)",
                                        spec.python));
    }
    if (reader.has("libtorch_cmake_dir")) {
      spec.libtorch_cmake_dir = reader.required_string("libtorch_cmake_dir");
    }
    if ((reader.has("suite") || reader.has("from_env")) && !spec.image.starts_with("localhost/")) {
      reader.fail("image", fmt::format("'{}': an image loadmatrix makes from a recipe is named "
                                       "localhost/NAME[:TAG], so that it never stands in for an "
                                       "image of that name from a registry",
                                       spec.image));
    }
    if (reader.has("suite")) {
      if (reader.has("from_env")) {
        reader.fail("suite", "give either 'suite' or 'from_env' as the image's recipe, not both");
      }
      read_debian_recipe(reader, spec);
    } else {
      for (const char* key : {"packages", "apt_options", "mirror"}) {
        if (reader.has(key)) {
          reader.fail(key,
                      "only meaningful with 'suite' (the Debian suite the image is built from)");
        }
      }
    }
  } else {
    reader.fail("kind", fmt::format("unknown env kind '{}' (expected 'debian', 'local', "
                                    "'container' or 'pip')",
                                    kind));
  }
  return spec;
}

} // namespace

const char* pairs_name(Pairs pairs) {
  return pairs == Pairs::consecutive ? "consecutive" : "all";
}

std::vector<std::string> producers_loaded_by(const std::vector<std::string>& consumers,
                                             size_t index, Pairs pairs) {
  if (pairs == Pairs::all) {
    return consumers;
  }
  std::vector<std::string> producers;
  if (index > 0) {
    producers.push_back(consumers[index - 1]);
  }
  producers.push_back(consumers[index]);
  return producers;
}

Matrix parse_matrix(const Json& document, const std::string& origin) {
  JsonFieldReader reader(document, origin, "");
  reader.reject_unknown_keys({"schema", "description", "pairs", "envs"});
  std::string schema = reader.required_string("schema");
  if (schema != kMatrixSchema) {
    reader.fail("schema", fmt::format("unsupported schema '{}' (this loadmatrix reads '{}')",
                                      schema, kMatrixSchema));
  }
  const Json& envs = reader.required("envs");
  if (!envs.is_array() || envs.empty()) {
    reader.fail("envs", "expected a non-empty array of environments");
  }
  Matrix matrix;
  matrix.origin = origin;
  std::string pairs = reader.optional_string("pairs", "all");
  if (pairs == "consecutive") {
    matrix.pairs = Pairs::consecutive;
  } else if (pairs != "all") {
    reader.fail("pairs", fmt::format("'{}' is not a pairing (expected 'all': every env loads "
                                     "every env's files, or 'consecutive': its own and the "
                                     "previous env's)",
                                     pairs));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < envs.size(); ++i) {
    std::string path = fmt::format("envs[{}]", i);
    EnvSpec spec = parse_env(envs[i], origin, path);
    if (spec.kind == EnvKind::container && envs[i].contains("from_env")) {
      JsonFieldReader entry(envs[i], origin, path);
      std::string source = entry.required_string("from_env");
      const EnvSpec* found = matrix.find_env(source);
      if (found == nullptr || found->kind != EnvKind::debian) {
        entry.fail("from_env",
                   fmt::format("'{}' is not a debian env declared before this one", source));
      }
      spec.from_env = std::make_shared<const EnvSpec>(*found);
    }
    if (!names.insert(spec.name).second) {
      reader.fail(path + ".name", fmt::format("duplicate env name '{}'", spec.name));
    }
    matrix.envs.push_back(std::move(spec));
  }
  return matrix;
}

Matrix load_matrix(const std::filesystem::path& path) {
  Json document = read_json_file(path).value_or_throw();
  return parse_matrix(document, path.string());
}

const EnvSpec* Matrix::find_env(const std::string& name) const {
  for (const auto& env : envs) {
    if (env.name == name) {
      return &env;
    }
  }
  return nullptr;
}

std::vector<EnvSpec> Matrix::select_envs(const std::vector<std::string>& names) const {
  if (names.empty()) {
    return envs;
  }
  std::vector<EnvSpec> selected;
  for (const auto& name : names) {
    const EnvSpec* spec = find_env(name);
    if (spec == nullptr) {
      std::string known;
      for (const auto& env : envs) {
        known += (known.empty() ? "" : ", ") + env.name;
      }
      throw FatalError(
          fmt::format("{}: no env named '{}' (the matrix has: {})", origin.string(), name, known));
    }
    selected.push_back(*spec);
  }
  return selected;
}

} // namespace loadmatrix
