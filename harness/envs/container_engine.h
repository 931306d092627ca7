// How a `container` env reaches its image: the command lines of a container engine, podman or
// docker (the same CLI for everything used here), rootful. Measured on this project's bookworm
// host with podman 4.3.1:
//   - crun refuses the kernel's hybrid cgroups; `--runtime runc --cgroup-manager cgroupfs` works
//     (global options: they belong in the env's "engine" list, before `run`);
//   - podman's default ulimits exceed what its runtime may set here ("error setting rlimit type
//     6/7: operation not permitted", NPROC and NOFILE; `--ulimit=host` fails the same way):
//     explicit `--ulimit=nofile=16384:16384 --ulimit=nproc=32768:32768` in run_options works,
//     as does `default_ulimits = []` in containers.conf.
// engine_hint() turns both failures into that advice.
// Killing the `ENGINE run` client does not stop its container (conmon or dockerd keeps it), so
// every container gets a name, and remove() is what ends one for sure.
#pragma once

#include "util/error.h"
#include "util/process.h"

#include <filesystem>
#include <string>
#include <vector>

namespace loadmatrix {

// Every container loadmatrix starts carries this label: `ENGINE ps -a --filter label=...` finds
// any left behind.
inline constexpr const char* kContainerLabel = "loadmatrix.sandbox";

struct ContainerBind {
  std::filesystem::path host;
  std::filesystem::path inside;
  bool writable = false;
};

// The known fix for an engine failure in `stderr_text` (see above), as a sentence to append to
// the error, or "" when the failure is not one of them.
std::string engine_hint(const std::string& stderr_text);

class ContainerEngine {
public:
  // `engine`: the program and its global options, e.g. {"podman", "--runtime", "runc"}.
  ContainerEngine(std::vector<std::string> engine, std::string image,
                  std::vector<std::string> run_options)
      : engine_(std::move(engine)), image_(std::move(image)), run_options_(std::move(run_options)) {
  }

  // The same engine running the image by `id` (as image_id() gave it) with pulls off: a tag
  // that moved after it was measured must not change what runs. An empty id keeps the tag.
  ContainerEngine pinned_to(const std::string& id) const;

  const std::string& image() const { return image_; }
  // docker's CLI, rather than podman's: its -v takes no "bind" option (see run_argv).
  bool is_docker() const;
  const std::vector<std::string>& engine() const { return engine_; }

  // A name no other container of this machine has: loadmatrix-PID-N-RANDOM.
  static std::string new_container_name();

  // `ENGINE run` of the image as one sandboxed command: removed when it exits, stdin kept open
  // (the worker's requests), no network, a read-only root with a private /tmp and a /dev/shm
  // as large as a chroot's (podman's default is 64 MB), root inside with
  // only CAP_SETUID and CAP_SETGID (so `entrypoint`, loadmatrix-sandbox, can drop to nobody),
  // no new privileges, then `binds`, the env's run_options, the image and `args`. A read-only
  // bind stays read-only below it: podman 4.3 has no recursive read-only option, so its binds
  // are non-recursive and each host mount point below one is bound read-only on its own (as
  // loadmatrix-sandbox remounts them in a chroot); docker 25+ makes `:ro` recursive itself.
  // Errors: a bind path the engine's -v syntax cannot carry (':' or ',').
  Expected<std::vector<std::string>> run_argv(const std::string& name,
                                              const std::vector<ContainerBind>& binds,
                                              const std::string& entrypoint,
                                              const std::vector<std::string>& args) const;

  // Kills and removes container `name` if it still exists; quiet when it is already gone.
  void remove(ProcessRunner& runner, const std::string& name) const;

  // The image's ID ("sha256:..."), or an error saying the engine does not have it.
  Expected<std::string> image_id(ProcessRunner& runner) const;

  // Makes the image from a root filesystem tarball (`ENGINE import TAR IMAGE`).
  Expected<void> import_image(ProcessRunner& runner, const std::filesystem::path& tarball) const;

  // Names of containers with kContainerLabel that still exist, running or not.
  Expected<std::vector<std::string>> leftovers(ProcessRunner& runner) const;

private:
  std::vector<std::string> command(std::initializer_list<std::string> tail) const;

  std::vector<std::string> engine_;
  std::string image_;
  std::string pinned_id_;
  std::vector<std::string> run_options_;
};

} // namespace loadmatrix
