#include "envs/sandbox.h"

#include "util/json_file.h"
#include "util/output_file.h"

#include <algorithm>
#include <cstdlib>
#include <fmt/core.h>
#include <fstream>
#include <pwd.h>
#include <unistd.h>

namespace loadmatrix {

bool sandbox_is_rootless() {
  // Root can become kSandboxUser only where that uid is mapped: in the initial user namespace,
  // not in `unshare -r`'s or a rootless container's that maps root alone.
  static const bool rootless = ::geteuid() != 0 || !uid_mapped_here(kSandboxUser);
  return rootless;
}

std::string user_namespace_hint() {
  auto read_number = [](const char* path) -> std::optional<long> {
    std::ifstream in(path);
    long value = 0;
    if (in >> value) {
      return value;
    }
    return std::nullopt;
  };
  std::vector<std::string> settings;
  if (read_number("/proc/sys/kernel/unprivileged_userns_clone") == 0L) {
    settings.push_back("kernel.unprivileged_userns_clone is 0 (sysctl -w "
                       "kernel.unprivileged_userns_clone=1)");
  }
  if (read_number("/proc/sys/user/max_user_namespaces") == 0L) {
    settings.push_back("user.max_user_namespaces is 0 (sysctl -w user.max_user_namespaces=15000)");
  }
  if (read_number("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1L) {
    settings.push_back("kernel.apparmor_restrict_unprivileged_userns is 1 (an AppArmor profile "
                       "for loadmatrix's unshare, or sysctl -w "
                       "kernel.apparmor_restrict_unprivileged_userns=0)");
  }
  std::string hint = "loadmatrix runs its sandbox as you in a user namespace (unshare --user "
                     "--map-root-user), and this kernel refused one";
  if (settings.empty()) {
    return hint + ": a container runtime or seccomp profile may forbid unshare(CLONE_NEWUSER); "
                  "check `unshare --user --map-root-user true`";
  }
  for (size_t i = 0; i < settings.size(); ++i) {
    hint += (i == 0 ? ": " : "; ") + settings[i];
  }
  return hint;
}

void make_sandbox_writable(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  // Rootless, the command's kernel uid is ours: what we own it may write.
  if (!sandbox_is_rootless() && ::chown(dir.c_str(), kSandboxUser, kSandboxUser) != 0) {
    throw FatalError(fmt::format("chown {}: {}", dir.string(), std::strerror(errno)));
  }
}

std::error_code make_sandbox_readable_only(const std::filesystem::path& file) {
  std::error_code ec;
  std::filesystem::permissions(file, std::filesystem::perms::owner_read, ec);
  if (!ec && !sandbox_is_rootless() && ::chown(file.c_str(), kSandboxUser, kSandboxUser) != 0) {
    ec = std::error_code(errno, std::generic_category());
  }
  return ec;
}

Sandbox Sandbox::host(std::filesystem::path init) {
  Sandbox sandbox;
  sandbox.init_ = std::move(init);
  return sandbox;
}

Sandbox Sandbox::host_with(std::filesystem::path dir, std::filesystem::path inside,
                           std::filesystem::path init) {
  Sandbox sandbox = host(std::move(init));
  sandbox.standing_.push_back(SandboxMount{std::move(dir), std::move(inside), false});
  return sandbox;
}

Sandbox Sandbox::chroot(std::filesystem::path root, std::filesystem::path init) {
  Sandbox sandbox = host(std::move(init));
  sandbox.root_ = std::move(root);
  return sandbox;
}

Sandbox Sandbox::container(ContainerEngine engine, std::filesystem::path init) {
  Sandbox sandbox = host(std::move(init));
  sandbox.engine_ = std::move(engine);
  return sandbox;
}

SandboxMount Sandbox::place(const std::filesystem::path& host_dir, const std::string& label,
                            bool writable) const {
  std::filesystem::path absolute = std::filesystem::absolute(host_dir).lexically_normal();
  // Never the host path itself: its parents may be closed to nobody (/root is 0700).
  std::filesystem::path base = is_chroot() || is_container() ? "/loadmatrix" : "/run/loadmatrix";
  return SandboxMount{absolute, base / label, writable};
}

namespace {

bool is_under(const std::filesystem::path& path, const std::filesystem::path& top) {
  auto rel = path.lexically_normal().lexically_relative(top.lexically_normal());
  return !rel.empty() && *rel.begin() != "..";
}

// Rootless, what the command must not see, since it runs with the user's own kernel uid: the
// user's home ($HOME, and the passwd entry's if that differs) and the host's /tmp (others'
// sockets and scratch). A directory is left visible when the command's interpreter really lives
// there (a `local` env's ~/venv, a venv made from ~/.pyenv's Python): `program` is the command
// as seen inside, a standing mount's inside path read as the host path it binds. A chroot shows
// neither. A home that holds system directories ("/", "/run") is not covered.
std::vector<std::filesystem::path>
hidden_dirs(std::filesystem::path program, const std::vector<SandboxMount>& standing, bool chroot) {
  if (chroot) {
    return {};
  }
  bool bound = false;
  for (const auto& mount : standing) {
    if (is_under(program, mount.inside)) {
      program = mount.host / program.lexically_normal().lexically_relative(mount.inside);
      bound = true;
    }
  }
  std::error_code ec;
  std::filesystem::path real_program = std::filesystem::weakly_canonical(program, ec);
  std::vector<std::filesystem::path> candidates;
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/') {
    candidates.emplace_back(home);
  }
  if (const passwd* entry = ::getpwuid(::getuid()); entry != nullptr && entry->pw_dir != nullptr) {
    candidates.emplace_back(entry->pw_dir);
  }
  candidates.emplace_back("/tmp");
  std::vector<std::filesystem::path> hidden;
  for (const auto& candidate : candidates) {
    std::filesystem::path dir = std::filesystem::weakly_canonical(candidate, ec);
    if (ec || !std::filesystem::is_directory(dir, ec)) {
      continue;
    }
    bool holds_system = dir == "/" || (dir != "/tmp" && is_under("/tmp", dir));
    for (const char* system : {"/usr", "/etc", "/run", "/dev", "/proc", "/sys", "/var", "/opt"}) {
      holds_system = holds_system || dir == system || is_under(system, dir);
    }
    bool interpreter_there = (!bound && is_under(program, dir)) || is_under(real_program, dir);
    if (holds_system || interpreter_there ||
        std::find(hidden.begin(), hidden.end(), dir) != hidden.end()) {
      continue;
    }
    hidden.push_back(dir);
  }
  return hidden;
}

// Where loadmatrix-sandbox and its status directory appear inside a container.
constexpr const char* kContainerInit = "/loadmatrix/.init/loadmatrix-sandbox";
constexpr const char* kContainerStatusDir = "/loadmatrix/.status";

} // namespace

Expected<WrappedCommand> Sandbox::wrap(const SandboxCommand& command,
                                       const SandboxStatus& status) const {
  if (engine_) {
    std::vector<ContainerBind> binds = {
        {init_, kContainerInit, false},
        {status.dir(), kContainerStatusDir, true},
    };
    for (const auto& mount : command.mounts) {
      binds.push_back({mount.host, mount.inside, mount.writable});
    }
    std::vector<std::string> args = {
        "--container", "--status-file",
        (std::filesystem::path(kContainerStatusDir) / status.file().filename()).string(),
        "--workdir", command.working_dir.string()};
    for (const auto& entry : command.env) {
      args.insert(args.end(), {"--env", entry});
    }
    if (command.memory_limit_bytes > 0) {
      args.insert(args.end(), {"--memory-limit", std::to_string(command.memory_limit_bytes)});
    }
    args.push_back("--");
    args.insert(args.end(), command.argv.begin(), command.argv.end());
    std::string name = ContainerEngine::new_container_name();
    auto argv = engine_->run_argv(name, binds, kContainerInit, args);
    if (!argv) {
      return argv.error();
    }
    return WrappedCommand{std::move(argv).value(), name};
  }
  const std::filesystem::path status_file = status.file();
  const bool rootless = sandbox_is_rootless();
  std::vector<std::string> argv = {"unshare"};
  if (rootless) {
    argv.insert(argv.end(), {"--user", "--map-root-user"});
  }
  argv.insert(argv.end(), {"--mount", "--pid", "--net", "--ipc", "--uts", "--fork", "--kill-child",
                           "--propagation", "private", init_.string(), "--status-file",
                           status_file.string(), "--workdir", command.working_dir.string()});
  if (rootless) {
    argv.push_back("--rootless");
    for (const auto& dir :
         hidden_dirs(command.argv.empty() ? "" : command.argv.front(), standing_, is_chroot())) {
      // A mount of a directory that holds a hidden one would show it all again.
      for (const auto& mount : command.mounts) {
        if (mount.host == dir || is_under(dir, mount.host)) {
          return Error{fmt::format(
              "{} would be mounted whole into the sandbox, and it holds {}, which the sandbox "
              "hides from what it runs (you are not root, so it runs as you): put the files in a "
              "directory of their own (mkdir ~/checkpoints && mv FILE ~/checkpoints/)",
              mount.host.string(), dir.string())};
        }
      }
      argv.insert(argv.end(), {"--hide", dir.string()});
    }
  }
  if (root_) {
    argv.insert(argv.end(), {"--root", root_->string()});
  }
  for (const auto* mounts : {&standing_, &command.mounts}) {
    for (const auto& mount : *mounts) {
      argv.insert(argv.end(), {mount.writable ? "--bind-rw" : "--bind-ro", mount.host.string(),
                               mount.inside.string()});
    }
  }
  for (const auto& entry : command.env) {
    argv.insert(argv.end(), {"--env", entry});
  }
  if (command.memory_limit_bytes > 0) {
    argv.insert(argv.end(), {"--memory-limit", std::to_string(command.memory_limit_bytes)});
  }
  argv.push_back("--");
  argv.insert(argv.end(), command.argv.begin(), command.argv.end());
  return WrappedCommand{std::move(argv), ""};
}

void Sandbox::release(ProcessRunner& runner, const WrappedCommand& wrapped) const {
  if (engine_ && !wrapped.container.empty()) {
    engine_->remove(runner, wrapped.container);
  }
}

Expected<SandboxStatus> SandboxStatus::create() {
  char templ[] = "/tmp/loadmatrix-status.XXXXXX";
  if (::mkdtemp(templ) == nullptr) {
    return Error{fmt::format("mkdtemp {}: {}", templ, std::strerror(errno))};
  }
  SandboxStatus status{std::filesystem::path(templ)};
  if (auto created = write_output_file(status.file(), ""); !created) {
    return created.error();
  }
  return status;
}

SandboxStatus::~SandboxStatus() {
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void SandboxStatus::apply(ProcessResult& result) const {
  auto status = read_text_file(file());
  int value = 0;
  if (status && result.termination == Termination::exited &&
      std::sscanf(status->c_str(), "signaled %d", &value) == 1) {
    result.termination = Termination::signaled;
    result.signal = value;
    result.exit_code = -1;
  }
}

ProcessResult Sandbox::run(ProcessRunner& runner, const SandboxCommand& command) const {
  auto status = SandboxStatus::create();
  if (!status) {
    ProcessResult failed;
    failed.spawn_error = status.error().message;
    return failed;
  }
  auto wrapped = wrap(command, *status);
  if (!wrapped) {
    ProcessResult failed;
    failed.spawn_error = wrapped.error().message;
    return failed;
  }
  ProcessSpec spec;
  spec.argv = wrapped->argv;
  spec.timeout = command.timeout;
  spec.output_limit = command.output_limit;
  ProcessResult result = runner.run(spec);
  if (result.termination != Termination::exited) {
    release(runner, *wrapped);
  }
  if (!engine_ && sandbox_is_rootless() &&
      result.stderr_text.find("unshare: ") != std::string::npos) {
    result.stderr_text += user_namespace_hint() + "\n";
  }
  status->apply(result);
  return result;
}

} // namespace loadmatrix
