// How a command runs inside an environment: `unshare` gives it fresh mount, PID, network,
// IPC and UTS namespaces; loadmatrix-sandbox, PID 1 there, mounts the env root read-only,
// binds the few host directories the command may see, and starts the command as `nobody`
// with no capabilities and a clean environment. No network exists inside. An ordinary user gets
// the same from a user namespace (sandbox_is_rootless below). In a container env
// the engine makes the namespaces, the mounts and the read-only root (envs/container_engine.h)
// and loadmatrix-sandbox, the container's entrypoint, does the rest the same way.
#pragma once

#include "envs/container_engine.h"
#include "envs/sandbox_user.h"
#include "util/error.h"
#include "util/process.h"

#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace loadmatrix {

// Whether sandboxes are made by an ordinary user: not root, or root only of a user namespace
// where kSandboxUser is not mapped (`unshare -r`, a rootless container). Then `unshare
// --user --map-root-user` makes the namespaces, the command is kSandboxUser only inside a user
// namespace of its own (its kernel uid and groups stay ours), so what file permissions give root
// mode is made explicit: a private /run, the host's /tmp and the user's homes covered by empty
// read-only tmpfs, and a mount that would show one whole refused (doc/sandbox.md). Container envs
// leave this to the engine (rootless podman).
bool sandbox_is_rootless();

// Why the kernel refused an ordinary user a user namespace, naming the setting that forbids it
// (kernel.unprivileged_userns_clone, user.max_user_namespaces,
// kernel.apparmor_restrict_unprivileged_userns) as read from /proc/sys; appended to a rootless
// sandbox's stderr when unshare fails.
std::string user_namespace_hint();

// Creates `dir` (and its parents) and gives it to kSandboxUser (rootless: it is already ours), so a
// command can write there through a writable mount. Throws FatalError naming the directory.
void make_sandbox_writable(const std::filesystem::path& dir);
// Makes `file` readable by kSandboxUser and no one else: 0400, given to that user (rootless: it
// is already ours). A copy of a user's file must not show other local users what its original
// kept from them. The error names what failed.
std::error_code make_sandbox_readable_only(const std::filesystem::path& file);

struct SandboxMount {
  std::filesystem::path host;
  std::filesystem::path inside; // set by Sandbox::place
  bool writable = false;
};

struct SandboxCommand {
  std::vector<std::string> argv; // as seen inside
  std::vector<SandboxMount> mounts;
  std::vector<std::string> env; // NAME=VALUE on top of a minimal PATH/HOME/LANG
  std::filesystem::path working_dir = "/";
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  size_t output_limit = 1 << 20;
  uint64_t memory_limit_bytes = 0; // RLIMIT_AS for the command; 0 = none
};

// The argv handed to the runner, and the container it starts (empty outside container envs).
struct WrappedCommand {
  std::vector<std::string> argv;
  std::string container;
};

// The file loadmatrix-sandbox writes its command's wait status to ("exited N" / "signaled N"),
// in a directory only root may enter, so the command can neither read nor forge it.
class SandboxStatus {
public:
  static Expected<SandboxStatus> create();
  SandboxStatus(SandboxStatus&& other) noexcept : dir_(std::exchange(other.dir_, {})) {}
  SandboxStatus& operator=(SandboxStatus&&) = delete;
  ~SandboxStatus();

  std::filesystem::path dir() const { return dir_; }
  std::filesystem::path file() const { return dir_ / "status"; }
  // A command killed by a signal inside exits from the sandbox as 128+N; this restores the
  // signal. An empty status means the sandbox failed before the command ran (stderr says why).
  void apply(ProcessResult& result) const;

private:
  explicit SandboxStatus(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

class Sandbox {
public:
  // `init`, in each: the loadmatrix-sandbox executable (runtime/shipped_files.h).
  // The host itself (a `local` env): its root remounted read-only.
  static Sandbox host(std::filesystem::path init);
  // The host with `dir` bound read-only at `inside` for every command (a `pip` env's venv at
  // kPipEnvInside, envs/pip_env.h): the venv's own path may sit below a directory the sandbox
  // user cannot enter.
  static Sandbox host_with(std::filesystem::path dir, std::filesystem::path inside,
                           std::filesystem::path init);
  // A chroot directory (a `debian` env); host directories appear under /loadmatrix/.
  static Sandbox chroot(std::filesystem::path root, std::filesystem::path init);
  // An image run by a container engine (a `container` env); host directories appear under
  // /loadmatrix/, as in a chroot.
  static Sandbox container(ContainerEngine engine, std::filesystem::path init);
  bool is_container() const { return engine_.has_value(); }
  const std::optional<ContainerEngine>& engine() const { return engine_; }

  bool is_chroot() const { return root_.has_value(); }
  // What every command gets besides its own mounts (host_with).
  const std::vector<SandboxMount>& standing_mounts() const { return standing_; }
  const std::optional<std::filesystem::path>& root() const { return root_; }

  // Where a host directory appears inside: /loadmatrix/LABEL in a chroot, /run/loadmatrix/LABEL
  // on the host. LABEL is a plain name; ".tmp" is taken by the host's private TMPDIR.
  SandboxMount place(const std::filesystem::path& host_dir, const std::string& label,
                     bool writable) const;

  // Runs the command; a signal that ends it inside is reported as `signaled`, not as the
  // 128+N exit status a PID 1 would otherwise turn it into. A container that outlives its
  // client (a timeout) is killed and removed before this returns.
  ProcessResult run(ProcessRunner& runner, const SandboxCommand& command) const;

  // The argv handed to the runner. `status` receives the command's real wait status.
  // Errors: a mount the container engine cannot express (envs/container_engine.h).
  Expected<WrappedCommand> wrap(const SandboxCommand& command, const SandboxStatus& status) const;

  // Ends what `wrapped` started once its client is gone: a container env's container is killed
  // and removed if it is still there. Nothing to do in the other kinds, whose PID 1 dies with
  // its client.
  void release(ProcessRunner& runner, const WrappedCommand& wrapped) const;

private:
  std::filesystem::path init_;
  std::optional<std::filesystem::path> root_;
  std::optional<ContainerEngine> engine_;
  std::vector<SandboxMount> standing_;
};

} // namespace loadmatrix
