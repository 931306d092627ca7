#include "envs/provisioner.h"

#include "envs/pip_env.h"
#include "util/text.h"

#include <fmt/core.h>
#include <optional>
#include <sstream>
#include <unistd.h>

namespace loadmatrix {

namespace {

using Clock = std::chrono::steady_clock;

// Leftovers of interrupted builds: safe to delete because we hold the env's lock.
void remove_partial_builds(const EnvCache& cache, const std::string& name) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(cache.dir(), ec)) {
    std::string file = entry.path().filename().string();
    if (file.starts_with(name + ".partial-") || file.starts_with(name + ".old-")) {
      std::filesystem::remove_all(entry.path(), ec);
    }
  }
}

// Swap in: the finished tree (a rootfs or a venv, with its manifest) replaces any old one in one
// rename, so no reader ever sees a half-built env under the real name.
Expected<void> swap_into_place(const EnvCache& cache, const std::string& name,
                               const std::filesystem::path& partial) {
  auto target = cache.env_dir(name);
  auto old = cache.dir() / fmt::format("{}.old-{}", name, ::getpid());
  std::error_code ec;
  if (std::filesystem::exists(target)) {
    std::filesystem::rename(target, old, ec);
    if (ec) {
      return Error{fmt::format("rename {} to {}: {}", target.string(), old.string(), ec.message())};
    }
  }
  std::filesystem::rename(partial, target, ec);
  if (ec) {
    return Error{
        fmt::format("rename {} to {}: {}", partial.string(), target.string(), ec.message())};
  }
  std::filesystem::remove_all(old, ec);
  return {};
}

// `spec`'s suite and packages installed into `target`: a directory, or a tarball when it ends
// in .tar.
std::vector<std::string> mmdebstrap_argv(const EnvSpec& spec, const ProvisionOptions& options,
                                         const std::filesystem::path& target) {
  std::vector<std::string> argv = {options.mmdebstrap, "--variant=apt",
                                   "--include=" + join(spec.packages, ",")};
  for (const auto& option : spec.apt_options) {
    argv.push_back("--aptopt=" + option);
  }
  argv.insert(argv.end(), {spec.suite, target.string()});
  if (spec.mirror) {
    argv.push_back(*spec.mirror);
  }
  return argv;
}

} // namespace

Expected<Manifest> Provisioner::measure(const EnvSpec& spec, const Sandbox& sandbox) {
  auto report = run_runtime_script(runner_, sandbox, shipped_.runtime_dir, python_for(spec),
                                   spec.name, "fingerprint.py");
  if (!report) {
    return report.error();
  }
  auto fingerprint = Fingerprint::from_json(*report, fmt::format("env {}", spec.name));
  if (!fingerprint) {
    return fingerprint.error();
  }
  Manifest manifest;
  manifest.name = spec.name;
  manifest.kind = spec.kind;
  manifest.spec = spec.identity();
  manifest.created = utc_now_iso8601();
  manifest.fingerprint = std::move(fingerprint).value();
  return manifest;
}

Expected<Manifest> Provisioner::build_debian(const EnvSpec& spec, const ProvisionOptions& options) {
  if (sandbox_is_rootless() && options.mmdebstrap == "mmdebstrap") {
    // mmdebstrap's own rootless mode (--mode=unshare) needs a subordinate uid range in
    // /etc/subuid, and its chroot holds files of many owners and device nodes that an ordinary
    // user can neither keep nor remove; not supported yet, so say what works instead.
    return Error{fmt::format(
        "env {}: a debian env is built as root (mmdebstrap makes a chroot of many owners and "
        "device nodes). As an ordinary user, a pip env gives every torch release since 1.13 from "
        "PyPI ({{\"kind\": \"pip\", \"requirements\": [\"torch==2.6.0\"]}}), and a local env runs "
        "the "
        "host's own torch",
        spec.name)};
  }
  auto started = Clock::now();
  remove_partial_builds(cache_, spec.name);
  auto partial = cache_.dir() / fmt::format("{}.partial-{}", spec.name, ::getpid());
  std::filesystem::create_directories(partial);
  auto rootfs = partial / "rootfs";

  ProcessSpec build;
  build.argv = mmdebstrap_argv(spec, options, rootfs);
  build.timeout = options.build_timeout;
  build.output_limit = 4 << 20;
  log_(fmt::format("env {}: building Debian {} ({}) with mmdebstrap into {}", spec.name, spec.suite,
                   join(spec.packages, " "), cache_.env_dir(spec.name).string()));
  ProcessResult result = runner_.run(build);
  if (!result.succeeded()) {
    std::filesystem::remove_all(partial);
    return Error{fmt::format("env {}: {} {} failed ({}):\n  {}", spec.name, options.mmdebstrap,
                             spec.suite, result.describe(),
                             last_lines(result.stderr_text + result.stdout_text, 8))};
  }
  // The sandbox mounts a tmpfs here and binds host directories below it.
  std::filesystem::create_directories(rootfs / "loadmatrix");

  Sandbox sandbox = Sandbox::chroot(rootfs, shipped_.sandbox_init);
  auto measured = measure(spec, sandbox);
  if (!measured) {
    std::filesystem::remove_all(partial);
    return measured.error();
  }
  Manifest manifest = std::move(measured).value();

  SandboxCommand query;
  query.argv = {"dpkg-query", "-W", "-f=${Package}\\t${Version}\\n"};
  ProcessResult packages = sandbox.run(runner_, query);
  std::istringstream lines(packages.stdout_text);
  for (std::string line; std::getline(lines, line);) {
    auto tab = line.find('\t');
    if (tab != std::string::npos) {
      manifest.packages[line.substr(0, tab)] = line.substr(tab + 1);
    }
  }
  manifest.build_seconds = std::chrono::duration<double>(Clock::now() - started).count();

  auto written = write_json_file(partial / "manifest.json", manifest.to_json());
  if (!written) {
    std::filesystem::remove_all(partial);
    return written.error();
  }
  if (auto swapped = swap_into_place(cache_, spec.name, partial); !swapped) {
    return swapped.error();
  }
  return manifest;
}

// The rootfs or venv is still right; only what fingerprint.py measures has grown.
Expected<Manifest> Provisioner::remeasure_built(const EnvSpec& spec, Manifest previous) {
  auto measured = measure(spec, sandbox_for(spec, cache_, shipped_));
  if (!measured) {
    return measured.error();
  }
  previous.fingerprint = std::move(measured->fingerprint);
  auto written = write_json_file(cache_.manifest_path(spec.name), previous.to_json());
  if (!written) {
    return written.error();
  }
  return previous;
}

// Makes the container env's image from its recipe: the named debian env's rootfs, or a fresh
// mmdebstrap of its suite, as a root filesystem tarball that the engine imports.
Expected<void> Provisioner::build_image(const EnvSpec& spec, const ContainerEngine& engine,
                                        const ProvisionOptions& options) {
  remove_partial_builds(cache_, spec.name);
  auto partial = cache_.dir() / fmt::format("{}.partial-{}", spec.name, ::getpid());
  std::filesystem::create_directories(partial);
  auto tarball = partial / "rootfs.tar";
  ProcessSpec build;
  if (spec.from_env) {
    build.argv = {"tar", "--numeric-owner", "-C", cache_.rootfs(spec.from_env->name).string(),
                  "-cf", tarball.string(),  "."};
    log_(fmt::format("env {}: making image {} from env {}'s rootfs", spec.name, engine.image(),
                     spec.from_env->name));
  } else {
    build.argv = mmdebstrap_argv(spec, options, tarball); // a .tar target: mmdebstrap writes one
    log_(fmt::format("env {}: building image {} from Debian {} ({}) with mmdebstrap", spec.name,
                     engine.image(), spec.suite, join(spec.packages, " ")));
  }
  build.timeout = options.build_timeout;
  build.output_limit = 4 << 20;
  ProcessResult result = runner_.run(build);
  if (!result.succeeded()) {
    std::filesystem::remove_all(partial);
    return Error{fmt::format("env {}: {} failed ({}):\n  {}", spec.name, build.argv.front(),
                             result.describe(),
                             last_lines(result.stderr_text + result.stdout_text, 8))};
  }
  auto imported = engine.import_image(runner_, tarball);
  std::filesystem::remove_all(partial);
  if (!imported) {
    return Error{fmt::format("env {}: {}", spec.name, imported.error().message)};
  }
  return {};
}

// An image is measured, never trusted by name: a tag pulled again, or a source env rebuilt, is
// another torch until fingerprint.py says otherwise.
Expected<ProvisionOutcome> Provisioner::provision_container(const EnvSpec& spec,
                                                            const ProvisionOptions& options,
                                                            EnvState state) {
  auto started = Clock::now();
  ContainerEngine engine(spec.engine, spec.image, spec.run_options);
  std::optional<std::string> source_created;
  // Held until the image is made: a concurrent rebuild of the source env cannot swap its
  // rootfs out from under the tar, nor make `source_created` name another build.
  std::optional<EnvLock> source_lock;
  if (spec.from_env) {
    ProvisionOptions source_options = options;
    source_options.force = false;
    auto source = provision(*spec.from_env, source_options);
    if (!source) {
      return Error{fmt::format("env {}: its image is made from env {}: {}", spec.name,
                               spec.from_env->name, source.error().message)};
    }
    source_lock.emplace(cache_, spec.from_env->name);
    EnvState source_state = cache_.inspect(*spec.from_env);
    if (source_state.status != EnvStatus::ready) {
      return Error{fmt::format("env {}: its source env {} became {} while it was provisioned",
                               spec.name, spec.from_env->name,
                               env_status_name(source_state.status))};
    }
    source_created = source_state.manifest->created;
  }
  auto id = engine.image_id(runner_);
  bool recipe = spec.from_env != nullptr || !spec.suite.empty();
  // Made from another build of the source env, or by an unknown hand (no manifest here): an
  // image under our recipe's name must be an exact copy of the env as it is now.
  bool outdated =
      source_created && (!state.manifest || state.manifest->image_source_created != source_created);
  // The recipe itself changed (another suite, other packages): the old image is not its result.
  auto recipe_of = [](const Json& identity) {
    Json parts = Json::object();
    for (const char* key : {"image", "from_env", "suite", "packages", "apt_options", "mirror"}) {
      parts[key] = identity.value(key, Json());
    }
    return parts;
  };
  bool recipe_changed =
      state.manifest && recipe_of(state.manifest->spec) != recipe_of(spec.identity());
  bool built = false;
  if (recipe && (!id || options.force || outdated || recipe_changed)) {
    if (auto made = build_image(spec, engine, options); !made) {
      return made.error();
    }
    id = engine.image_id(runner_);
    built = true;
  }
  source_lock.reset();
  if (!id) {
    return Error{fmt::format("env {}: {}{}", spec.name, id.error().message,
                             recipe ? ""
                                    : " (the env has no recipe, 'from_env' or 'suite', to "
                                      "make it: pull or build the image first)")};
  }
  if (!built && state.status == EnvStatus::ready && !options.force &&
      state.manifest->image_id == *id) {
    return ProvisionOutcome{environment(spec, *state.manifest), false};
  }
  if (state.status == EnvStatus::ready && state.manifest->image_id != *id) {
    log_(fmt::format("env {}: image {} is now {}; measuring it again", spec.name, spec.image, *id));
  }
  auto measured = measure(spec, sandbox_for(spec, cache_, shipped_, *id));
  if (!measured) {
    return Error{measured.error().message + engine_hint(measured.error().message)};
  }
  Manifest manifest = std::move(measured).value();
  manifest.image_id = *id;
  manifest.image_source_created = source_created;
  manifest.build_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::filesystem::create_directories(cache_.env_dir(spec.name));
  if (auto written = write_json_file(cache_.manifest_path(spec.name), manifest.to_json());
      !written) {
    return written.error();
  }
  return ProvisionOutcome{environment(spec, std::move(manifest)), true};
}

// A venv made and measured in NAME.partial-PID (it is relocatable, and its sandbox binds it at the
// same inside path wherever it is), then swapped in whole like a rootfs: a failed rebuild leaves
// the old env as it was.
Expected<Manifest> Provisioner::build_pip(const EnvSpec& spec, const ProvisionOptions& options) {
  auto started = Clock::now();
  remove_partial_builds(cache_, spec.name);
  auto partial = cache_.dir() / fmt::format("{}.partial-{}", spec.name, ::getpid());
  std::error_code ec;
  std::filesystem::create_directories(partial, ec);
  std::filesystem::create_directories(cache_.uv_cache(), ec);
  if (ec) {
    return Error{fmt::format("env {}: {}: {}", spec.name, cache_.dir().string(), ec.message())};
  }
  auto venv = partial / "venv";
  auto built = make_pip_venv(spec, venv, cache_.uv_cache(), runner_, options.build_timeout, log_);
  if (!built) {
    std::filesystem::remove_all(partial, ec);
    return built.error();
  }
  auto measured = measure(spec, Sandbox::host_with(venv, kPipEnvInside, shipped_.sandbox_init));
  if (!measured) {
    std::filesystem::remove_all(partial, ec);
    // The interpreter a venv links to may sit where the sandbox user cannot reach (a pyenv under
    // /root): said only when that is what failed, not for a sandbox that could not start.
    bool unreachable = measured.error().message.find("Permission denied") != std::string::npos;
    return Error{measured.error().message +
                 (unreachable ? fmt::format("\n  (the venv's base interpreter, python '{}', must "
                                            "be one the sandbox user nobody can run: not below a "
                                            "private home directory)",
                                            spec.python)
                              : std::string())};
  }
  Manifest manifest = std::move(measured).value();
  manifest.packages = installed_distributions(venv);
  manifest.uv = built->uv_version;
  manifest.build_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (auto written = write_json_file(partial / "manifest.json", manifest.to_json()); !written) {
    std::filesystem::remove_all(partial, ec);
    return written.error();
  }
  if (auto swapped = swap_into_place(cache_, spec.name, partial); !swapped) {
    return swapped.error();
  }
  return manifest;
}

// Local interpreters and container images exist already: nothing is built, they are measured.
Expected<Manifest> Provisioner::fingerprint_existing(const EnvSpec& spec) {
  if (spec.kind == EnvKind::local && ::access(spec.python.c_str(), X_OK) != 0) {
    return Error{
        fmt::format("env {}: python {}: {}", spec.name, spec.python, std::strerror(errno))};
  }
  if (spec.kind == EnvKind::local && spec.libtorch_cmake_dir &&
      !std::filesystem::exists(std::filesystem::path(*spec.libtorch_cmake_dir) /
                               "TorchConfig.cmake")) {
    return Error{fmt::format("env {}: libtorch_cmake_dir {}: no TorchConfig.cmake there", spec.name,
                             *spec.libtorch_cmake_dir)};
  }
  auto started = Clock::now();
  auto measured = measure(spec, sandbox_for(spec, cache_, shipped_));
  if (!measured) {
    return measured.error();
  }
  Manifest manifest = std::move(measured).value();
  if (spec.kind == EnvKind::local) {
    // Detects a later `pip install -U torch` in the same interpreter.
    manifest.torch_mtime = file_mtime_ns(manifest.fingerprint.torch_file);
  }
  manifest.build_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::filesystem::create_directories(cache_.env_dir(spec.name));
  auto written = write_json_file(cache_.manifest_path(spec.name), manifest.to_json());
  if (!written) {
    return written.error();
  }
  return manifest;
}

Expected<ProvisionOutcome> Provisioner::provision(const EnvSpec& spec,
                                                  const ProvisionOptions& options) {
  EnvLock lock(cache_, spec.name);
  EnvState state = cache_.inspect(spec);
  if (spec.kind == EnvKind::container) {
    return provision_container(spec, options, std::move(state));
  }
  if (state.status == EnvStatus::ready && !options.force) {
    return ProvisionOutcome{environment(spec, *state.manifest), false};
  }
  if (state.status == EnvStatus::stale || state.status == EnvStatus::broken) {
    log_(fmt::format("env {}: {} ({}); {}", spec.name, env_status_name(state.status), state.detail,
                     state.remeasure_only ? "measuring it again" : "rebuilding"));
  }
  bool remeasure = (spec.kind == EnvKind::debian || spec.kind == EnvKind::pip) &&
                   state.remeasure_only && !options.force;
  auto manifest = remeasure ? remeasure_built(spec, std::move(state.manifest).value())
                  : spec.kind == EnvKind::debian ? build_debian(spec, options)
                  : spec.kind == EnvKind::pip    ? build_pip(spec, options)
                                                 : fingerprint_existing(spec);
  if (!manifest) {
    return manifest.error();
  }
  return ProvisionOutcome{environment(spec, std::move(manifest).value()), true, remeasure};
}

EnvState Provisioner::inspect(const EnvSpec& spec) const {
  EnvState state = cache_.inspect(spec);
  if (spec.kind != EnvKind::container || state.status != EnvStatus::ready) {
    return state;
  }
  auto id = ContainerEngine(spec.engine, spec.image, spec.run_options).image_id(runner_);
  if (!id) {
    state.status = EnvStatus::stale;
    state.detail = "its image cannot be found: " + id.error().message;
  } else if (*id != state.manifest->image_id) {
    state.status = EnvStatus::stale;
    state.detail = fmt::format("image {} changed since it was measured", spec.image);
  } else if (spec.from_env) {
    EnvState source = cache_.inspect(*spec.from_env);
    if (!source.manifest || source.manifest->created != state.manifest->image_source_created) {
      state.status = EnvStatus::stale;
      state.detail = fmt::format("env {}, its image's source, was rebuilt or is gone since the "
                                 "image was made from it",
                                 spec.from_env->name);
    }
  }
  return state;
}

Expected<Environment> Provisioner::open(const EnvSpec& spec) const {
  EnvState state = inspect(spec);
  if (state.status != EnvStatus::ready) {
    return Error{fmt::format("env {}: {}{} in {} (run: loadmatrix envs provision {})", spec.name,
                             env_status_name(state.status),
                             state.detail.empty() ? "" : " (" + state.detail + ")",
                             cache_.dir().string(), spec.name)};
  }
  return environment(spec, *state.manifest);
}

Environment Provisioner::environment(const EnvSpec& spec, Manifest manifest) const {
  // A container env runs the image ID it measured, never its tag (envs/environment.h).
  Sandbox sandbox = sandbox_for(spec, cache_, shipped_, manifest.image_id.value_or(""));
  return Environment{spec, std::move(manifest), std::move(sandbox), python_for(spec), shipped_, {}};
}

} // namespace loadmatrix
