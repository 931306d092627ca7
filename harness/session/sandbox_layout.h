// Where each host directory a job's worker needs appears inside its env, both ways: a job mounts
// its inputs (checkpoints, case roots, scanned directories, --python-path) once, hands the worker
// the inside paths, and reads the inside paths a worker reports (a traceback's file) back as the
// host names them.
#pragma once

#include "envs/sandbox.h"

#include <filesystem>
#include <string>
#include <vector>

namespace loadmatrix {

class SandboxLayout {
public:
  // Keeps `sandbox` by address: it must outlive the layout (an Environment's sandbox does).
  explicit SandboxLayout(const Sandbox& sandbox) : sandbox_(&sandbox) {}

  // Mounts `host_dir` at LABEL (Sandbox::place); `importable` also puts it on PYTHONPATH, in
  // the order added. Returns the mount.
  SandboxMount add(const std::filesystem::path& host_dir, const std::string& label, bool writable,
                   bool importable = false);

  // The inside path of `relative` below the mounted host directory `host_dir`. Throws
  // FatalError ("internal: ...") when no mount holds `host_dir`: a job asked for a file it did
  // not mount.
  std::filesystem::path inside(const std::filesystem::path& host_dir,
                               const std::filesystem::path& relative) const;

  // A path as the sandbox saw it, as the host names it (unchanged when no mount holds it).
  std::string host_path(const std::string& inside) const;

  const std::vector<SandboxMount>& mounts() const { return mounts_; }
  const std::vector<std::string>& python_path() const { return python_path_; }

private:
  const Sandbox* sandbox_;
  std::vector<SandboxMount> mounts_;
  std::vector<std::string> python_path_; // inside paths
};

} // namespace loadmatrix
