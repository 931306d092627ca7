#include "envs/container_engine.h"

#include "envs/mount_table.h"
#include "util/text.h"

#include <algorithm>
#include <atomic>
#include <fmt/core.h>
#include <random>
#include <sstream>
#include <unistd.h>

namespace loadmatrix {

std::string engine_hint(const std::string& stderr_text) {
  if (stderr_text.find("rlimit") != std::string::npos) {
    return " (the engine's default ulimits exceed what this machine allows: add "
           "\"--ulimit=nofile=16384:16384\", \"--ulimit=nproc=32768:32768\" to the env's "
           "run_options, or set default_ulimits = [] in containers.conf)";
  }
  if (stderr_text.find("cgroup") != std::string::npos) {
    return " (the runtime cannot use this kernel's cgroups: with podman, put \"--runtime\", "
           "\"runc\", \"--cgroup-manager\", \"cgroupfs\" in the env's engine list)";
  }
  return "";
}

namespace {

// Of `points`, those strictly below `dir`, outermost first.
std::vector<std::filesystem::path> mount_points_below(const std::vector<std::string>& points,
                                                      const std::filesystem::path& dir) {
  std::string prefix = dir.string();
  if (!prefix.ends_with('/')) {
    prefix += '/';
  }
  std::vector<std::filesystem::path> below;
  for (const auto& point : points) {
    if (point.starts_with(prefix)) {
      below.emplace_back(point);
    }
  }
  std::sort(below.begin(), below.end());
  below.erase(std::unique(below.begin(), below.end()), below.end());
  return below;
}

} // namespace

ContainerEngine ContainerEngine::pinned_to(const std::string& id) const {
  ContainerEngine pinned = *this;
  pinned.pinned_id_ = id;
  return pinned;
}

bool ContainerEngine::is_docker() const {
  return std::filesystem::path(engine_.front()).filename() == "docker";
}

std::string ContainerEngine::new_container_name() {
  static std::atomic<unsigned> counter{0};
  static const unsigned salt = std::random_device{}();
  return fmt::format("loadmatrix-{}-{}-{:08x}", ::getpid(), counter++, salt);
}

std::vector<std::string> ContainerEngine::command(std::initializer_list<std::string> tail) const {
  std::vector<std::string> argv = engine_;
  argv.insert(argv.end(), tail);
  return argv;
}

Expected<std::vector<std::string>>
ContainerEngine::run_argv(const std::string& name, const std::vector<ContainerBind>& binds,
                          const std::string& entrypoint,
                          const std::vector<std::string>& args) const {
  std::vector<std::string> argv = command({
      "run",
      "--rm",
      "-i",
      "--name",
      name,
      "--label",
      kContainerLabel,
      "--network=none",
      "--read-only",
      "--tmpfs=/tmp:rw,nosuid,nodev,mode=1777,size=4g",
      // podman's --read-only adds unbounded tmpfs here; bounded like /tmp, and the same in docker.
      "--tmpfs=/var/tmp:rw,nosuid,nodev,mode=1777,size=1g",
      "--tmpfs=/run:rw,nosuid,nodev,mode=755,size=64m",
      "--shm-size=1g",
      "--pull=never",
      "--user=0:0",
      "--cap-drop=ALL",
      "--cap-add=SETUID",
      "--cap-add=SETGID",
      "--security-opt=no-new-privileges",
      "--entrypoint=" + entrypoint,
  });
  const std::vector<std::string> points = is_docker() ? std::vector<std::string>{} : mount_points();
  std::vector<ContainerBind> all;
  for (const auto& bind : binds) {
    all.push_back(bind);
    if (!bind.writable) {
      for (const auto& point : mount_points_below(points, bind.host)) {
        all.push_back({point, bind.inside / point.lexically_relative(bind.host), false});
      }
    }
  }
  for (const auto& bind : all) {
    for (const auto& path : {bind.host.string(), bind.inside.string()}) {
      if (path.find_first_of(":,") != std::string::npos) {
        return Error{fmt::format("{}: {} cannot bind-mount a path holding ':' or ',' (its -v "
                                 "syntax splits there); move it or link it from a plain path",
                                 path, engine_.front())};
      }
    }
    argv.push_back("--volume=" + bind.host.string() + ":" + bind.inside.string() +
                   (bind.writable ? ":rw"
                    : is_docker() ? ":ro"
                                  : ":ro,bind"));
  }
  argv.insert(argv.end(), run_options_.begin(), run_options_.end());
  argv.push_back(pinned_id_.empty() ? image_ : pinned_id_);
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

void ContainerEngine::remove(ProcessRunner& runner, const std::string& name) const {
  // kill first: `rm -f` would give podman's container its 10 s stop timeout.
  for (auto argv : {command({"kill", name}), command({"rm", "-f", "-v", name})}) {
    ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.timeout = std::chrono::seconds(60);
    runner.run(spec);
  }
}

Expected<std::string> ContainerEngine::image_id(ProcessRunner& runner) const {
  ProcessSpec spec;
  spec.argv = command({"image", "inspect", "--format", "{{.Id}}", image_});
  spec.timeout = std::chrono::seconds(60);
  ProcessResult result = runner.run(spec);
  std::string id = trim(result.stdout_text);
  if (!result.succeeded() || id.empty()) {
    return Error{fmt::format("{} image inspect {} ({}): {}", engine_.front(), image_,
                             result.describe(), last_lines(result.stderr_text, 3))};
  }
  return id;
}

Expected<void> ContainerEngine::import_image(ProcessRunner& runner,
                                             const std::filesystem::path& tarball) const {
  ProcessSpec spec;
  spec.argv = command({"import", tarball.string(), image_});
  spec.timeout = std::chrono::minutes(30);
  ProcessResult result = runner.run(spec);
  if (!result.succeeded()) {
    return Error{fmt::format("{} import {} {} ({}): {}", engine_.front(), tarball.string(), image_,
                             result.describe(), last_lines(result.stderr_text, 4))};
  }
  return {};
}

Expected<std::vector<std::string>> ContainerEngine::leftovers(ProcessRunner& runner) const {
  ProcessSpec spec;
  spec.argv = command(
      {"ps", "-a", "--filter", fmt::format("label={}", kContainerLabel), "--format", "{{.Names}}"});
  spec.timeout = std::chrono::seconds(60);
  ProcessResult result = runner.run(spec);
  if (!result.succeeded()) {
    return Error{fmt::format("{} ps ({}): {}", engine_.front(), result.describe(),
                             last_lines(result.stderr_text, 3))};
  }
  std::vector<std::string> names;
  std::istringstream lines(result.stdout_text);
  for (std::string line; std::getline(lines, line);) {
    if (!trim(line).empty()) {
      names.push_back(trim(line));
    }
  }
  return names;
}

} // namespace loadmatrix
