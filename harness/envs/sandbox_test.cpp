// Runs in every env of the default matrix: the sandbox must hold in each of them.
#include "cli/resources.h"
#include "envs/sandbox.h"
#include "testing/test_envs.h"
#include "util/json_file.h"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fmt/core.h>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace loadmatrix;
using namespace std::chrono_literals;

namespace {

class SandboxEnvTest : public ::testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    env_ = std::make_unique<Environment>(test_support::open_test_env(GetParam()));
  }

  ProcessResult python(const std::string& code, std::vector<SandboxMount> mounts = {},
                       std::chrono::milliseconds timeout = 60s) {
    SandboxCommand command;
    command.argv = {env_->python, "-c", code};
    command.mounts = std::move(mounts);
    command.timeout = timeout;
    return env_->sandbox.run(runner_, command);
  }

  SystemProcessRunner runner_;
  std::unique_ptr<Environment> env_;
};

bool any_process_has_argument(const std::string& needle) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string text((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    if (text.find(needle) != std::string::npos) {
      return true;
    }
  }
  return false;
}

} // namespace

TEST_P(SandboxEnvTest, NetworkIsUnreachable) {
  ProcessResult result = python(R"(
import socket, errno
try:
    socket.create_connection(("1.1.1.1", 53), timeout=5)
    print("connected")
except OSError as e:
    print("errno", errno.errorcode.get(e.errno, e.errno))
print("interfaces", sorted(name for _, name in socket.if_nameindex()))
)");
  ASSERT_TRUE(result.succeeded()) << result.describe() << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("errno ENETUNREACH"), std::string::npos) << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("interfaces ['lo']"), std::string::npos) << result.stdout_text;
}

TEST_P(SandboxEnvTest, EnvRootIsReadOnlyAndTheCommandIsUnprivileged) {
  ProcessResult result = python(R"(
import os
print("root_readonly", bool(os.statvfs("/").f_flag & os.ST_RDONLY))
print("usr_readonly", bool(os.statvfs("/usr/lib").f_flag & os.ST_RDONLY))
print("uid", os.getuid())
caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")]
print("capeff", caps[0])
try:
    open("/usr/lib/loadmatrix-write-probe", "w")
    print("wrote")
except OSError as e:
    print("write refused", e.strerror)
import tempfile
with tempfile.NamedTemporaryFile() as scratch:
    print("tmpdir writable", scratch.name.startswith(tempfile.gettempdir()))
)");
  ASSERT_TRUE(result.succeeded()) << result.describe() << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("root_readonly True"), std::string::npos) << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("usr_readonly True"), std::string::npos) << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("uid 65534"), std::string::npos);
  EXPECT_NE(result.stdout_text.find("capeff 0000000000000000"), std::string::npos);
  EXPECT_NE(result.stdout_text.find("write refused"), std::string::npos);
  EXPECT_NE(result.stdout_text.find("tmpdir writable True"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists("/usr/lib/loadmatrix-write-probe"));
}

TEST_P(SandboxEnvTest, OnlyTheWritableMountReachesTheHost) {
  test_support::TempDir scratch;
  test_support::give_to_sandbox_user(scratch.path());
  test_support::TempDir readonly;
  // A world-writable mount below the read-only one must be read-only inside too, even where
  // /proc/self/mountinfo escapes its name (a space is "\040" there).
  auto nested = readonly.path() / "nested mount";
  std::filesystem::create_directories(nested);
  ASSERT_EQ(::mount("loadmatrix-test", nested.c_str(), "tmpfs", 0, "mode=1777,size=1m"), 0)
      << std::strerror(errno);
  struct Unmount {
    std::filesystem::path path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{nested};
  SandboxMount work = env_->sandbox.place(scratch.path(), "work", true);
  SandboxMount input = env_->sandbox.place(readonly.path(), "input", false);
  // python -c takes its arguments after the code.
  SandboxCommand command;
  command.argv = {env_->python, "-c",
                  "import sys\nopen(sys.argv[1] + '/out.txt', 'w').write('hello')\n"
                  "for where in ('', '/nested mount'):\n"
                  "    try:\n        open(sys.argv[2] + where + '/x', 'w')\n"
                  "    except OSError as e:\n        print('input' + where, e.strerror)\n",
                  work.inside.string(), input.inside.string()};
  command.mounts = {work, input};
  ProcessResult result = env_->sandbox.run(runner_, command);
  ASSERT_TRUE(result.succeeded()) << result.describe() << result.stderr_text;
  std::ifstream out(scratch.path() / "out.txt");
  std::string text((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "hello");
  EXPECT_NE(result.stdout_text.find("input Read-only file system"), std::string::npos)
      << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("input/nested mount Read-only file system"), std::string::npos)
      << result.stdout_text;
  EXPECT_FALSE(std::filesystem::exists(nested / "x"));
}

TEST_P(SandboxEnvTest, TheDriversHomeIsNotReadableButWhatIsMountedFromItIs) {
  // As root the command is nobody, who cannot enter /root; rootless its kernel uid is the user's
  // own, and an empty tmpfs covers their home instead. A directory of the home that a job mounts
  // (a checkpoint the user keeps there) stays readable at its mount.
  const char* home = std::getenv("HOME");
  ASSERT_NE(home, nullptr);
  auto dir = std::filesystem::path(home) / fmt::format(".loadmatrix-test-{}", ::getpid());
  std::filesystem::create_directories(dir);
  struct Remove {
    std::filesystem::path path;
    ~Remove() { std::filesystem::remove_all(path); }
  } remove{dir};
  std::filesystem::permissions(dir, std::filesystem::perms(0755));
  { std::ofstream(dir / "secret") << "private"; }
  { std::ofstream(dir / "input") << "shared"; }
  std::filesystem::permissions(dir / "secret", std::filesystem::perms(0644));
  std::filesystem::permissions(dir / "input", std::filesystem::perms(0644));
  SandboxMount mounted = env_->sandbox.place(dir, "input", false);
  SandboxCommand command;
  command.argv = {env_->python, "-c",
                  "import sys\nfor path in sys.argv[1:]:\n    try:\n"
                  "        print('read', open(path).read())\n"
                  "    except OSError as e:\n        print('refused', e.strerror)\n",
                  (dir / "secret").string(), (mounted.inside / "input").string()};
  command.mounts = {mounted};
  ProcessResult result = env_->sandbox.run(runner_, command);
  ASSERT_TRUE(result.succeeded()) << result.describe() << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("refused"), std::string::npos) << result.stdout_text;
  EXPECT_EQ(result.stdout_text.find("private"), std::string::npos) << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("read shared"), std::string::npos) << result.stdout_text;
}

// Rootless, the command's kernel uid is the user's: sockets the user can reach on the host (in
// /tmp, in /run: a session bus, an agent) must not be there, and a mount that would show the
// hidden home whole is refused with a way out. As root (the command is nobody) this is moot.
TEST_P(SandboxEnvTest, RootlessTheHostsSocketsAndAMountHoldingTheHomeAreKeptOut) {
  if (!sandbox_is_rootless()) {
    GTEST_SKIP() << "as root the command is nobody, whom file permissions keep out";
  }
  auto socket_path = std::filesystem::path("/tmp") / fmt::format("loadmatrix-sock-{}", ::getpid());
  int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  struct Close {
    int fd;
    std::filesystem::path path;
    ~Close() {
      ::close(fd);
      std::filesystem::remove(path);
    }
  } close{listener, socket_path};
  ProcessResult result =
      python("import os, socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect(" +
             Json(socket_path.string()).dump() +
             ")\n    print('connected')\nexcept OSError as e:\n    print('refused', e.strerror)\n"
             "print('run', sorted(os.listdir('/run')))\n");
  ASSERT_TRUE(result.succeeded()) << result.describe() << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("refused"), std::string::npos) << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("run ['loadmatrix']"), std::string::npos) << result.stdout_text;

  const char* home = std::getenv("HOME");
  ASSERT_NE(home, nullptr);
  SandboxCommand command;
  command.argv = {env_->python, "-c", "print('ran')"};
  command.mounts = {env_->sandbox.place(home, "input", false)};
  ProcessResult whole = env_->sandbox.run(runner_, command);
  EXPECT_EQ(whole.stdout_text.find("ran"), std::string::npos) << whole.stdout_text;
  EXPECT_NE(whole.spawn_error.find("holds"), std::string::npos) << whole.describe();
  EXPECT_NE(whole.spawn_error.find("a directory of their own"), std::string::npos)
      << whole.spawn_error;
}

TEST_P(SandboxEnvTest, TimeoutKillsTheCommandAndEverythingItStarted) {
  // A marker no other process has, to find stragglers on the host afterwards.
  std::string marker = "loadmatrix-straggler-" + std::to_string(::getpid()) + "-" + GetParam();
  SandboxCommand command;
  // The command and the child it forks both carry the marker in their argv.
  command.argv = {env_->python, "-c", "import os, time; os.fork(); time.sleep(300)", marker};
  command.timeout = 1s;
  ProcessResult result = env_->sandbox.run(runner_, command);
  EXPECT_EQ(result.termination, Termination::timed_out) << result.describe();
  EXPECT_LT(result.duration, 10s);
  for (int i = 0; i < 100 && any_process_has_argument(marker); ++i) {
    usleep(20000);
  }
  EXPECT_FALSE(any_process_has_argument(marker)) << "the command or its child survived";
  if (env_->sandbox.engine()) {
    // Its container went with it: killing the engine's client alone would have left it.
    EXPECT_TRUE(env_->sandbox.engine()->leftovers(runner_).value_or_throw().empty());
  }
}

TEST_P(SandboxEnvTest, ACommandKilledByASignalIsReportedAsSignaled) {
  ProcessResult segv = python("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)");
  EXPECT_EQ(segv.termination, Termination::signaled) << segv.describe() << segv.stderr_text;
  EXPECT_EQ(segv.signal, SIGSEGV);
  ProcessResult abort = python("import os; os.abort()");
  EXPECT_EQ(abort.termination, Termination::signaled) << abort.describe();
  EXPECT_EQ(abort.signal, SIGABRT);
  // An ordinary exit status stays an exit status, even one that looks like 128+N.
  ProcessResult exit = python("import sys; sys.exit(139)");
  EXPECT_EQ(exit.termination, Termination::exited);
  EXPECT_EQ(exit.exit_code, 139);
}

INSTANTIATE_TEST_SUITE_P(AllEnvs, SandboxEnvTest,
                         ::testing::ValuesIn(test_support::default_env_names()));

INSTANTIATE_TEST_SUITE_P(ContainerEnvs, SandboxEnvTest,
                         ::testing::ValuesIn(test_support::container_env_names()));

TEST(SandboxTest, AContainerCommandRunsTheImageUnderOurInitWithOnlyItsMounts) {
  // Run by the ID that was measured, never by the tag.
  Sandbox sandbox = Sandbox::container(
      ContainerEngine({"docker"}, "pytorch/pytorch:2.6.0-cuda12.4-cudnn9-runtime",
                      {"--ulimit=nofile=1024"})
          .pinned_to("sha256:0123"),
      resources().shipped.sandbox_init);
  SandboxCommand command;
  command.mounts = {sandbox.place("/srv/ckpt", "checkpoints", false),
                    sandbox.place("/tmp/out/scratch", "scratch", true)};
  command.env = {"PYTHONPATH=/loadmatrix/fixtures"};
  command.argv = {"python3", "/loadmatrix/runtime/worker.py"};
  command.memory_limit_bytes = 1 << 30;
  auto status = SandboxStatus::create();
  ASSERT_TRUE(status);
  auto wrapped = sandbox.wrap(command, *status);
  ASSERT_TRUE(wrapped) << wrapped.error().message;
  ASSERT_TRUE(wrapped->container.starts_with("loadmatrix-")) << wrapped->container;
  EXPECT_EQ(wrapped->argv, (std::vector<std::string>{
                               "docker",
                               "run",
                               "--rm",
                               "-i",
                               "--name",
                               wrapped->container,
                               "--label",
                               "loadmatrix.sandbox",
                               "--network=none",
                               "--read-only",
                               "--tmpfs=/tmp:rw,nosuid,nodev,mode=1777,size=4g",
                               "--tmpfs=/var/tmp:rw,nosuid,nodev,mode=1777,size=1g",
                               "--tmpfs=/run:rw,nosuid,nodev,mode=755,size=64m",
                               "--shm-size=1g",
                               "--pull=never",
                               "--user=0:0",
                               "--cap-drop=ALL",
                               "--cap-add=SETUID",
                               "--cap-add=SETGID",
                               "--security-opt=no-new-privileges",
                               "--entrypoint=/loadmatrix/.init/loadmatrix-sandbox",
                               "--volume=" + resources().shipped.sandbox_init.string() +
                                   ":/loadmatrix/.init/loadmatrix-sandbox:ro",
                               "--volume=" + status->dir().string() + ":/loadmatrix/.status:rw",
                               "--volume=/srv/ckpt:/loadmatrix/checkpoints:ro",
                               "--volume=/tmp/out/scratch:/loadmatrix/scratch:rw",
                               "--ulimit=nofile=1024",
                               "sha256:0123",
                               "--container",
                               "--status-file",
                               "/loadmatrix/.status/status",
                               "--workdir",
                               "/",
                               "--env",
                               "PYTHONPATH=/loadmatrix/fixtures",
                               "--memory-limit",
                               "1073741824",
                               "--",
                               "python3",
                               "/loadmatrix/runtime/worker.py"}));
  // Two commands never share a container name.
  EXPECT_NE(sandbox.wrap(command, *status)->container, wrapped->container);
}

// podman 4.3 has no recursive read-only bind: each mount point below a read-only bind is bound
// read-only itself. /dev/pts is one below /dev on every Linux host this runs on.
TEST(SandboxTest, APodmanReadOnlyBindCarriesTheMountsBelowItReadOnly) {
  Sandbox sandbox =
      Sandbox::container(ContainerEngine({"podman"}, "img", {}), resources().shipped.sandbox_init);
  SandboxCommand command;
  command.mounts = {sandbox.place("/dev", "input", false)};
  command.argv = {"true"};
  auto status = SandboxStatus::create();
  ASSERT_TRUE(status);
  auto wrapped = sandbox.wrap(command, *status);
  ASSERT_TRUE(wrapped) << wrapped.error().message;
  auto has = [&](const std::string& arg) {
    return std::find(wrapped->argv.begin(), wrapped->argv.end(), arg) != wrapped->argv.end();
  };
  EXPECT_TRUE(has("--volume=/dev:/loadmatrix/input:ro,bind"));
  EXPECT_TRUE(has("--volume=/dev/pts:/loadmatrix/input/pts:ro,bind")) << dump_json(wrapped->argv);
  // docker (25+) makes `:ro` recursive itself: one volume.
  Sandbox docker = Sandbox::container(ContainerEngine({"/usr/bin/docker"}, "img", {}),
                                      resources().shipped.sandbox_init);
  command.mounts = {docker.place("/dev", "input", false)};
  auto plain = docker.wrap(command, *status);
  ASSERT_TRUE(plain);
  EXPECT_EQ(std::count_if(plain->argv.begin(), plain->argv.end(),
                          [](const std::string& arg) { return arg.starts_with("--volume=/dev"); }),
            1);
}

TEST(SandboxTest, AContainerMountThatTheEngineCannotExpressIsAnError) {
  Sandbox sandbox =
      Sandbox::container(ContainerEngine({"podman"}, "img", {}), resources().shipped.sandbox_init);
  SandboxCommand command;
  command.mounts = {sandbox.place("/data/run:3", "checkpoints", false)};
  command.argv = {"true"};
  auto status = SandboxStatus::create();
  ASSERT_TRUE(status);
  auto wrapped = sandbox.wrap(command, *status);
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().message,
            "/data/run:3: podman cannot bind-mount a path holding ':' or ',' (its -v syntax "
            "splits there); move it or link it from a plain path");
}
