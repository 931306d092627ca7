#include "session/sandbox_layout.h"

#include "util/error.h"

namespace loadmatrix {

namespace {

// A directory as one name: absolute, normal, and without a trailing separator ("/src/cases/"
// and "/src/cases" are one directory).
std::filesystem::path directory_key(const std::filesystem::path& dir) {
  auto normal = std::filesystem::absolute(dir).lexically_normal();
  return normal.has_filename() || !normal.has_relative_path() ? normal : normal.parent_path();
}

} // namespace

SandboxMount SandboxLayout::add(const std::filesystem::path& host_dir, const std::string& label,
                                bool writable, bool importable) {
  SandboxMount mount = sandbox_->place(host_dir, label, writable);
  mounts_.push_back(mount);
  if (importable) {
    python_path_.push_back(mount.inside.string());
  }
  return mount;
}

std::filesystem::path SandboxLayout::inside(const std::filesystem::path& host_dir,
                                            const std::filesystem::path& relative) const {
  auto host = directory_key(host_dir);
  for (const auto& mount : mounts_) {
    if (directory_key(mount.host) == host) {
      return mount.inside / relative;
    }
  }
  throw FatalError("internal: no mount for " + host.string());
}

std::string SandboxLayout::host_path(const std::string& inside) const {
  std::filesystem::path path(inside);
  for (const auto* mounts : {&mounts_, &sandbox_->standing_mounts()}) {
    for (const auto& mount : *mounts) {
      auto relative = path.lexically_relative(mount.inside);
      if (!mount.inside.empty() && !relative.empty() && *relative.begin() != "..") {
        return (mount.host / relative).lexically_normal().string();
      }
    }
  }
  return inside;
}

} // namespace loadmatrix
