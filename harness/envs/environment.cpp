#include "envs/environment.h"

#include "envs/pip_env.h"
#include "runtime/protocol.h"
#include "util/text.h"

#include <algorithm>
#include <fmt/core.h>

namespace loadmatrix {

Json env_summary(const Environment& env) {
  const Fingerprint& fp = env.fingerprint();
  Json summary = {{"name", env.spec.name},
                  {"kind", env_kind_name(env.spec.kind)},
                  {"torch", fp.torch},
                  {"python", fp.python},
                  {"numpy", fp.numpy ? Json(*fp.numpy) : Json(nullptr)},
                  {"has_weights_only", fp.has_weights_only},
                  {"weights_only_default",
                   fp.weights_only_default ? Json(*fp.weights_only_default) : Json(nullptr)},
                  {"has_add_safe_globals", fp.has_add_safe_globals},
                  {"allowlist_size", fp.allowlist ? Json(fp.allowlist->size()) : Json(nullptr)},
                  {"cxx", fp.cxx ? Json(*fp.cxx) : Json(nullptr)}};
  if (env.spec.kind == EnvKind::pip) {
    // What a report names when it compares two envs: lightning 2.5.6 -> 2.6.0 on one torch.
    summary["packages"] = env.manifest.packages;
  }
  if (!env.runs_here()) {
    summary["facts"] = env.facts_source.string();
  }
  return summary;
}

Sandbox sandbox_for(const EnvSpec& spec, const EnvCache& cache, const ShippedFiles& shipped,
                    const std::string& image_id) {
  switch (spec.kind) {
  case EnvKind::debian:
    return Sandbox::chroot(cache.rootfs(spec.name), shipped.sandbox_init);
  case EnvKind::local:
    return Sandbox::host(shipped.sandbox_init);
  case EnvKind::pip:
    return Sandbox::host_with(cache.venv(spec.name), kPipEnvInside, shipped.sandbox_init);
  case EnvKind::container:
    return Sandbox::container(
        ContainerEngine(spec.engine, spec.image, spec.run_options).pinned_to(image_id),
        shipped.sandbox_init);
  }
  return Sandbox::host(shipped.sandbox_init);
}

std::string python_for(const EnvSpec& spec) {
  switch (spec.kind) {
  case EnvKind::debian:
    return "/usr/bin/python3";
  case EnvKind::pip:
    return std::string(kPipEnvInside) + "/bin/python";
  case EnvKind::local:
  case EnvKind::container:
    break;
  }
  return spec.python;
}

Expected<std::filesystem::path> host_site_packages(const Environment& env) {
  if (env.spec.kind == EnvKind::pip && !env.sandbox.standing_mounts().empty()) {
    // The venv's own layout, not what the env says of itself.
    auto sites = venv_site_packages(env.sandbox.standing_mounts().front().host);
    if (sites.empty()) {
      return Error{fmt::format("env {}: its venv has no lib/python*/site-packages", env.spec.name)};
    }
    return sites.front();
  }
  const std::string& torch_file = env.fingerprint().torch_file;
  if (env.sandbox.is_container() || torch_file.empty()) {
    return Error{fmt::format("env {}: its installed packages are not on this host ({})",
                             env.spec.name,
                             torch_file.empty() ? "it measured no torch file" : "a container env")};
  }
  // .../site-packages/torch/__init__.py as the env reported it: text from inside, so it must be
  // absolute, hold no "..", and stay inside the chroot once its links are resolved.
  std::filesystem::path inside = std::filesystem::path(torch_file).parent_path().parent_path();
  bool dotted = std::any_of(inside.begin(), inside.end(),
                            [](const std::filesystem::path& part) { return part == ".."; });
  if (!inside.is_absolute() || dotted) {
    return Error{fmt::format("env {}: it reported torch at '{}', not a plain absolute path",
                             env.spec.name, torch_file)};
  }
  std::error_code ec;
  std::filesystem::path host = inside;
  if (env.sandbox.root()) {
    auto root = std::filesystem::canonical(*env.sandbox.root(), ec);
    host = std::filesystem::weakly_canonical(*env.sandbox.root() / inside.relative_path(), ec);
    auto relative = host.lexically_relative(root);
    if (ec || relative.empty() || *relative.begin() == "..") {
      return Error{
          fmt::format("env {}: {} leads outside its rootfs", env.spec.name, inside.string())};
    }
  }
  if (!std::filesystem::is_directory(host, ec)) {
    return Error{fmt::format("env {}: {}: not a directory", env.spec.name, host.string())};
  }
  return host;
}

Expected<Json> run_runtime_script(ProcessRunner& runner, const Sandbox& sandbox,
                                  const std::filesystem::path& runtime_dir,
                                  const std::string& python, const std::string& env_name,
                                  const std::string& script, const std::vector<std::string>& args) {
  SandboxMount runtime = sandbox.place(runtime_dir, "runtime", false);
  SandboxCommand command;
  command.argv = {python, (runtime.inside / script).string()};
  command.argv.insert(command.argv.end(), args.begin(), args.end());
  command.mounts = {runtime};
  command.timeout = std::chrono::minutes(2);
  ProcessResult result = sandbox.run(runner, command);
  std::string origin = fmt::format("env {}: {}", env_name, script);
  auto report = final_protocol_message(result.stdout_text, origin);
  if (!report) {
    return Error{fmt::format("{} ({}): {}", report.error().message, result.describe(),
                             last_lines(result.stderr_text, 6))};
  }
  return report;
}

} // namespace loadmatrix
