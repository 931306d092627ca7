#include "session/sandbox_layout.h"

#include "util/error.h"

namespace loadmatrix {

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
  auto host = std::filesystem::absolute(host_dir).lexically_normal();
  for (const auto& mount : mounts_) {
    if (mount.host == host) {
      return mount.inside / relative;
    }
  }
  throw FatalError("internal: no mount for " + host.string());
}

std::string SandboxLayout::host_path(const std::string& inside) const {
  std::filesystem::path path(inside);
  for (const auto& mount : mounts_) {
    auto relative = path.lexically_relative(mount.inside);
    if (!mount.inside.empty() && !relative.empty() && *relative.begin() != "..") {
      return (mount.host / relative).lexically_normal().string();
    }
  }
  return inside;
}

} // namespace loadmatrix
