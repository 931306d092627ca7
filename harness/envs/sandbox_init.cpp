#include "envs/sandbox_init.h"

#include "envs/mount_table.h"
#include "envs/sandbox_user.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <grp.h>
#include <sched.h>
#include <string>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace loadmatrix {

namespace {

// Host-side mount points and scratch: under /run, which only root may write to.
constexpr const char* kHostMountBase = "/run/loadmatrix/";
constexpr const char* kHostTmp = "/run/loadmatrix/.tmp";
constexpr int kSetupFailed = 125;

struct Bind {
  std::string host;
  std::string inside;
  bool writable;
};

struct Options {
  // Inside a container engine's container (envs/container_engine.h): the engine made the
  // namespaces, mounts and read-only root; we only report the status, limit and drop privileges.
  bool container = false;
  // Started by an ordinary user, in a user namespace whose root is that user (unshare
  // --map-root-user): the command becomes kSandboxUser in a user namespace of its own instead of
  // by setresuid, which needs real root.
  bool rootless = false;
  // Host directories covered by an empty read-only tmpfs (rootless: the home, /tmp); with
  // `rootless` on the host, /run is a private tmpfs too.
  std::vector<std::string> hide;
  std::string status_file;
  std::string root; // empty: the host's own root
  std::string workdir = "/";
  std::vector<Bind> binds;
  std::vector<std::string> env;
  unsigned long long memory_limit = 0;
  std::vector<char*> command;
};

volatile sig_atomic_t forwarded_signal = 0;

void remember_signal(int signal) {
  forwarded_signal = signal;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "loadmatrix-sandbox: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(kSetupFailed);
}

[[noreturn]] void usage(const std::string& what) {
  std::fprintf(stderr, "loadmatrix-sandbox: usage: %s\n", what.c_str());
  std::exit(kSetupFailed);
}

Options parse(int argc, char** argv) {
  Options options;
  int i = 1;
  auto need = [&](int count) {
    if (i + count >= argc) {
      usage(std::string(argv[i]) + " needs " + std::to_string(count) + " value(s)");
    }
  };
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg == "--container") {
      options.container = true;
    } else if (arg == "--rootless") {
      options.rootless = true;
    } else if (arg == "--hide") {
      need(1);
      options.hide.emplace_back(argv[++i]);
    } else if (arg == "--status-file") {
      need(1);
      options.status_file = argv[++i];
    } else if (arg == "--root") {
      need(1);
      options.root = argv[++i];
    } else if (arg == "--workdir") {
      need(1);
      options.workdir = argv[++i];
    } else if (arg == "--bind-ro" || arg == "--bind-rw") {
      need(2);
      options.binds.push_back({argv[i + 1], argv[i + 2], arg == "--bind-rw"});
      i += 2;
    } else if (arg == "--env") {
      need(1);
      options.env.emplace_back(argv[++i]);
    } else if (arg == "--memory-limit") {
      need(1);
      options.memory_limit = std::strtoull(argv[++i], nullptr, 10);
    } else {
      usage("unknown option " + arg);
    }
  }
  for (; i < argc; ++i) {
    options.command.push_back(argv[i]);
  }
  if (options.command.empty()) {
    usage("no command after --");
  }
  options.command.push_back(nullptr);
  return options;
}

void mount_or_die(const char* source, const std::string& target, const char* type,
                  unsigned long flags, const char* data) {
  if (::mount(source, target.c_str(), type, flags, data) != 0) {
    die(std::string("mount ") + (source ? source : "") + " on " + target);
  }
}

void remount(const std::string& target, bool read_only) {
  struct statvfs info {};
  if (::statvfs(target.c_str(), &info) != 0) {
    return; // vanished or unreachable (e.g. under a mount we covered): nothing to protect
  }
  unsigned long flags = MS_REMOUNT | MS_BIND;
  // Keep the mount's nosuid/nodev/noexec and access-time flags: remount replaces all per-mount
  // flags at once, and in a user namespace the kernel refuses (EPERM) a remount that clears any
  // of them on a mount inherited from the host, which it locks (mount_namespaces(7)).
  flags |= (info.f_flag & ST_NOSUID) ? MS_NOSUID : 0;
  flags |= (info.f_flag & ST_NODEV) ? MS_NODEV : 0;
  flags |= (info.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
  flags |= (info.f_flag & ST_NOATIME) ? MS_NOATIME : 0;
  flags |= (info.f_flag & ST_NODIRATIME) ? MS_NODIRATIME : 0;
  flags |= (info.f_flag & ST_RELATIME) ? MS_RELATIME : 0;
  // Neither: strictatime, which a remount must name (it would default to relatime).
  flags |= (info.f_flag & (ST_NOATIME | ST_RELATIME)) ? 0 : MS_STRICTATIME;
  flags |= read_only ? MS_RDONLY : 0;
  if (::mount(nullptr, target.c_str(), nullptr, flags, nullptr) != 0 && read_only) {
    die("remount read-only " + target);
  }
}

// `top` + an absolute path, without the "//" that would defeat comparisons with mountinfo.
std::string join(const std::string& top, const std::string& path) {
  return top == "/" ? path : top + path;
}

bool under(const std::string& path, const std::string& top) {
  if (top == "/") {
    return true;
  }
  return path == top || path.starts_with(top + "/");
}

// Opens the file the driver reads our command's wait status from. Its directory (private to
// root) is first bound onto itself: a mount with an open writer cannot be made read-only, so
// the writer must sit on a mount of its own.
int open_status_file(const std::string& path, std::vector<std::string>& keep_writable) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  mount_or_die(dir.c_str(), dir, nullptr, MS_BIND, nullptr);
  keep_writable.push_back(dir);
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) {
    die("open " + path);
  }
  return fd;
}

int prepare_filesystem(const Options& options) {
  const bool chrooted = !options.root.empty();
  const std::string top = chrooted ? options.root : "/";
  std::vector<std::string> keep_writable;
  int status_fd =
      options.status_file.empty() ? -1 : open_status_file(options.status_file, keep_writable);

  // Open every bind source first: the tmpfs mounted over /tmp below may cover it.
  std::vector<int> sources;
  for (const auto& bind : options.binds) {
    int fd = ::open(bind.host.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) {
      die("open " + bind.host);
    }
    sources.push_back(fd);
  }

  if (options.rootless && !chrooted) {
    // The host's /run holds the user's sockets (the session bus, an agent, a container engine's)
    // that a command running as the user could connect to whatever the mount's flags: a private
    // one, where the mount points below are made (real root owns the host's, and is not mapped).
    mount_or_die("run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m");
  }
  if (chrooted) {
    // A bind of the root onto itself makes it a mount point whose flags we can change.
    mount_or_die(options.root.c_str(), top, nullptr, MS_BIND, nullptr);
    mount_or_die("loadmatrix", join(top, "/loadmatrix"), "tmpfs", MS_NOSUID | MS_NODEV,
                 "mode=0755,size=16m");
  }
  // A private, writable temporary directory: the chroot's /tmp, or on the host (whose /tmp may
  // hold a local env's venv, so it stays visible, read-only) kHostTmp.
  std::string tmp = chrooted ? join(top, "/tmp") : kHostTmp;
  std::error_code mkdir_error;
  std::filesystem::create_directories(tmp, mkdir_error);
  mount_or_die("tmp", tmp, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=4g");
  keep_writable.push_back(tmp);
  // A private /dev/shm: the host's is world-writable and shared.
  mount_or_die("shm", join(top, "/dev/shm"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=1g");
  keep_writable.push_back(join(top, "/dev/shm"));

  const std::string base = chrooted ? "/loadmatrix/" : kHostMountBase;
  std::vector<std::pair<std::string, bool>> bind_targets;
  for (size_t i = 0; i < options.binds.size(); ++i) {
    const Bind& bind = options.binds[i];
    if (!bind.inside.starts_with(base)) {
      errno = EINVAL;
      die("bind target " + bind.inside + " is not under " + base);
    }
    std::string target = join(top, bind.inside);
    std::error_code ec;
    std::filesystem::create_directories(target, ec);
    if (ec) {
      errno = ec.value();
      die("mkdir " + target);
    }
    std::string source = "/proc/self/fd/" + std::to_string(sources[i]);
    mount_or_die(source.c_str(), target, nullptr, MS_BIND | MS_REC, nullptr);
    ::close(sources[i]);
    bind_targets.emplace_back(target, bind.writable);
  }

  mount_or_die("proc", join(top, "/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);

  // Everything at or below the env root becomes read-only, except the scratch mounts above.
  for (const auto& point : mount_points()) {
    bool writable_scratch = false;
    for (const auto& keep : keep_writable) {
      writable_scratch = writable_scratch || point == keep;
    }
    for (const auto& [target, writable] : bind_targets) {
      writable_scratch = writable_scratch || (writable && under(point, target));
    }
    if (under(point, top) && !writable_scratch && !under(point, join(top, "/proc"))) {
      remount(point, true);
    }
  }
  for (const auto& [target, writable] : bind_targets) {
    if (writable) {
      remount(target, false);
    }
  }
  // The status file stays open for us; its path now leads to the read-only mount below, so a
  // command running as its owner (rootless: the same kernel uid) cannot rewrite it.
  if (status_fd >= 0) {
    std::string dir = std::filesystem::path(options.status_file).parent_path().string();
    if (::umount2(dir.c_str(), MNT_DETACH) != 0) {
      die("detach " + dir);
    }
  }
  // What the driver's user keeps to itself, covered by an empty read-only tmpfs: rootless, the
  // command runs with that user's own kernel uid and could read their home, or reach others'
  // sockets in the host's /tmp. Last: a bind (MS_REC) of a directory below one of these would
  // otherwise carry the tmpfs along as a submount and show it empty, and the status file's
  // directory must be detached first.
  for (const auto& dir : options.hide) {
    mount_or_die("hidden", join(top, dir), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
                 "mode=0555,size=4k");
  }
  return status_fd;
}

// Rootless, we are root only in a user namespace that maps the driver's user; setresuid to
// kSandboxUser is impossible there (that uid is not mapped). A user namespace of the command's own
// maps kSandboxUser to us: the command sees itself as nobody, execve leaves it no capability, and
// the mounts belong to our namespace, not its, so it cannot change them. Done before chroot: the
// kernel refuses a new user namespace inside a chroot.
void become_sandbox_user_in_own_namespace() {
  if (::unshare(CLONE_NEWUSER) != 0) {
    die("unshare a user namespace for the command");
  }
  auto write_file = [](const char* path, const std::string& text, bool required) {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (fd >= 0) {
      ::close(fd);
    }
    if (!ok && required) {
      die(std::string("write ") + path);
    }
  };
  const std::string map = std::to_string(kSandboxUser) + " 0 1\n";
  write_file("/proc/self/uid_map", map, true);
  write_file("/proc/self/setgroups", "deny", false); // already denied when inherited
  write_file("/proc/self/gid_map", map, true);
}

[[noreturn]] void exec_command(const Options& options) {
  if (options.rootless) {
    become_sandbox_user_in_own_namespace();
  }
  if (!options.root.empty()) {
    if (::chroot(options.root.c_str()) != 0) {
      die("chroot " + options.root);
    }
  }
  if (::chdir(options.workdir.c_str()) != 0) {
    die("chdir " + options.workdir);
  }
  if (options.memory_limit > 0) {
    rlimit limit{options.memory_limit, options.memory_limit};
    if (::setrlimit(RLIMIT_AS, &limit) != 0) {
      die("setrlimit RLIMIT_AS");
    }
  }
  if (!options.rootless &&
      (::setgroups(0, nullptr) != 0 || ::setresgid(kSandboxUser, kSandboxUser, kSandboxUser) != 0 ||
       ::setresuid(kSandboxUser, kSandboxUser, kSandboxUser) != 0)) {
    if (options.container && !uid_mapped_here(kSandboxUser)) {
      // Rootless podman maps only the user's own uid unless /etc/subuid gives it a range.
      die("drop privileges to nobody: uid 65534 is not mapped in this container's user "
          "namespace (rootless podman with no /etc/subuid and /etc/subgid range for your user: "
          "add one, e.g. usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER, "
          "then podman system migrate)");
    }
    die("drop privileges to nobody");
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    die("prctl no_new_privs");
  }
  const std::string tmp = options.root.empty() && !options.container ? kHostTmp : "/tmp";
  // An image's own PATH says where its Python lives (/opt/conda/bin in PyTorch's images).
  const char* image_path = options.container ? std::getenv("PATH") : nullptr;
  std::vector<std::string> env = {
      image_path != nullptr ? std::string("PATH=") + image_path
                            : "PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin",
      "HOME=" + tmp,
      "TMPDIR=" + tmp,
      "LANG=C.UTF-8",
      "LC_ALL=C.UTF-8",
      "PYTHONDONTWRITEBYTECODE=1"};
  for (const auto& extra : options.env) {
    auto name = extra.substr(0, extra.find('=') + 1);
    std::erase_if(env, [&](const std::string& e) { return e.starts_with(name); });
    env.push_back(extra);
  }
  std::vector<char*> envp;
  for (auto& entry : env) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);
  environ = envp.data();
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execvp(options.command[0], options.command.data());
  std::fprintf(stderr, "loadmatrix-sandbox: exec %s: %s\n", options.command[0],
               std::strerror(errno));
  std::_Exit(127);
}

} // namespace

int sandbox_init_main(int argc, char** argv) {
  Options options = parse(argc, argv);
  if (::getpid() != 1) {
    errno = EINVAL;
    die("must run as PID 1 of a new PID namespace (under unshare --pid --fork, or as a "
        "container's entrypoint)");
  }
  int status_fd = -1;
  if (!options.container) {
    status_fd = prepare_filesystem(options);
  } else if (!options.status_file.empty()) {
    // A host directory only root may enter, mounted by the engine; we are the container's
    // root until exec_command drops to nobody.
    status_fd = ::open(options.status_file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (status_fd < 0) {
      die("open " + options.status_file);
    }
  }

  struct sigaction action {};
  action.sa_handler = remember_signal;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGTERM, SIGINT, SIGHUP}) {
    ::sigaction(signal, &action, nullptr);
  }

  pid_t child = ::fork();
  if (child < 0) {
    die("fork");
  }
  if (child == 0) {
    exec_command(options);
  }

  int child_status = 0;
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid == child) {
      child_status = status;
      break;
    }
    if (pid < 0 && errno == EINTR && forwarded_signal != 0) {
      // As PID 1 we are the only one the driver's TERM reaches reliably; pass it on.
      ::kill(-1, forwarded_signal);
      forwarded_signal = 0;
    }
  }
  // The command is done; nothing it started may outlive it.
  ::kill(-1, SIGKILL);
  while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
  }

  if (status_fd >= 0) {
    std::string text = WIFSIGNALED(child_status)
                           ? "signaled " + std::to_string(WTERMSIG(child_status))
                           : "exited " + std::to_string(WEXITSTATUS(child_status));
    if (::write(status_fd, text.data(), text.size()) < 0) {
      std::perror("loadmatrix-sandbox: write status");
    }
    ::close(status_fd);
  }
  return WIFSIGNALED(child_status) ? 128 + WTERMSIG(child_status) : WEXITSTATUS(child_status);
}

} // namespace loadmatrix
