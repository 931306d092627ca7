#include "envs/environment.h"

#include "util/resources.h"

#include <fmt/core.h>

namespace loadmatrix {

Sandbox sandbox_for(const EnvSpec& spec, const EnvCache& cache) {
  return spec.kind == EnvKind::debian ? Sandbox::chroot(cache.rootfs(spec.name)) : Sandbox::host();
}

std::string python_for(const EnvSpec& spec) {
  return spec.kind == EnvKind::debian ? "/usr/bin/python3" : spec.python;
}

namespace {

// The last few lines of a stream, for error messages that must stay one screen long.
std::string tail_lines(const std::string& text, size_t count) {
  size_t pos = text.size();
  for (size_t found = 0; pos > 0 && found <= count;) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) {
      return text;
    }
    ++found;
  }
  return text.substr(pos + 1);
}

} // namespace

Expected<Json> run_runtime_script(ProcessRunner& runner, const Sandbox& sandbox,
                                  const std::string& python, const std::string& env_name,
                                  const std::string& script, const std::vector<std::string>& args) {
  SandboxMount runtime = sandbox.place(resources().runtime_dir, "runtime", false);
  SandboxCommand command;
  command.argv = {python, (runtime.inside / script).string()};
  command.argv.insert(command.argv.end(), args.begin(), args.end());
  command.mounts = {runtime};
  command.timeout = std::chrono::minutes(2);
  ProcessResult result = sandbox.run(runner, command);
  std::string origin = fmt::format("env {}: {}", env_name, script);
  auto report = find_probe_report(result.stdout_text, origin);
  if (!report) {
    return Error{fmt::format("{} ({}): {}", report.error().message, result.describe(),
                             tail_lines(result.stderr_text, 6))};
  }
  return report;
}

} // namespace loadmatrix
