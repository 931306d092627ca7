#include "util/input_files.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fmt/core.h>
#include <memory>
#include <string_view>
#include <sys/stat.h>

namespace loadmatrix {

namespace {

const char* file_type_name(mode_t mode) {
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  if (S_ISCHR(mode) || S_ISBLK(mode)) {
    return "a device";
  }
  return "not a regular file";
}

class Collector {
public:
  explicit Collector(const InputNameFilter& wanted) : wanted_(wanted) {}

  // `typed` is the argument as given, which is how reports name what was found under it.
  void add_argument(const std::filesystem::path& typed) {
    typed_ = typed;
    auto path = std::filesystem::absolute(typed).lexically_normal();
    struct stat info;
    if (::stat(path.c_str(), &info) != 0) {
      // lstat tells a dangling or looping symlink from a missing path.
      int stat_errno = errno;
      struct stat link;
      bool is_link = ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode);
      add(path, path.parent_path(), path.filename(), {},
          is_link ? fmt::format("a symlink that does not resolve: {}", std::strerror(stat_errno))
                  : fmt::format("cannot examine: {}", std::strerror(stat_errno)));
      return;
    }
    if (S_ISDIR(info.st_mode)) {
      walking_ = true;
      walk(path, path, {});
      walking_ = false;
      return;
    }
    add_file(path, path.parent_path(), path.filename(), info);
  }

  std::vector<InputFile> take() { return std::move(inputs_); }

private:
  void add(std::filesystem::path file, const std::filesystem::path& root,
           std::filesystem::path relative, std::string skipped, std::string error) {
    std::string shown = walking_ ? joined(typed_.native(), relative.native()) : typed_.native();
    inputs_.push_back({std::move(file), printable_name(std::move(shown)), root, std::move(relative),
                       std::move(skipped), std::move(error)});
  }

  void add_file(const std::filesystem::path& file, const std::filesystem::path& root,
                const std::filesystem::path& relative, const struct stat& info) {
    if (S_ISREG(info.st_mode)) {
      add(file, root, relative, {}, {});
    } else {
      // Never opened: reading a FIFO would block the scan forever.
      add(file, root, relative, fmt::format("{}: not opened", file_type_name(info.st_mode)), {});
    }
  }

  // `base` and `name` with one separator between them, as path's operator/ joins them.
  static std::string joined(const std::string& base, const std::string& name) {
    if (base.empty()) {
      return name;
    }
    std::string out;
    out.reserve(base.size() + 1 + name.size());
    out += base;
    if (base.back() != '/') {
      out += '/';
    }
    return out += name;
  }

  void walk(const std::filesystem::path& dir, const std::filesystem::path& root,
            const std::filesystem::path& relative) {
    // readdir rather than directory_iterator: a path object per entry, only to sort the entries
    // by it, cost more than the static pass over a small checkpoint. The directory's own record
    // of each entry's type spares an lstat per regular file; a filesystem that records none is
    // asked.
    std::vector<std::pair<std::string, bool>> children; // name, known regular
    std::unique_ptr<DIR, int (*)(DIR*)> listing(::opendir(dir.c_str()), ::closedir);
    int list_errno = listing ? 0 : errno;
    while (listing) {
      errno = 0;
      const dirent* entry = ::readdir(listing.get());
      if (!entry) {
        list_errno = errno;
        break;
      }
      std::string_view name = entry->d_name;
      if (name != "." && name != "..") {
        children.emplace_back(name, entry->d_type == DT_REG);
      }
    }
    if (list_errno != 0) {
      add(dir, root, relative, {},
          fmt::format("cannot list the directory: {}", std::strerror(list_errno)));
      return;
    }
    std::sort(children.begin(), children.end());
    const std::string& dir_text = dir.native();
    const std::string& relative_text = relative.native();
    for (const auto& [name, regular] : children) {
      std::filesystem::path child = joined(dir_text, name);
      std::filesystem::path child_relative = joined(relative_text, name);
      bool refused = wanted_ && !wanted_(name);
      if (regular) {
        if (!refused) {
          add(std::move(child), root, std::move(child_relative), {}, {});
        }
        continue;
      }
      struct stat link;
      if (::lstat(child.c_str(), &link) != 0) {
        add(child, root, child_relative, {},
            fmt::format("cannot examine: {}", std::strerror(errno)));
        continue;
      }
      if (S_ISDIR(link.st_mode)) {
        walk(child, root, child_relative);
        continue;
      }
      if (refused) {
        continue;
      }
      if (!S_ISLNK(link.st_mode)) {
        add_file(child, root, child_relative, link);
        continue;
      }
      struct stat target;
      if (::stat(child.c_str(), &target) != 0) {
        add(child, root, child_relative, {},
            fmt::format("a symlink that does not resolve: {}", std::strerror(errno)));
      } else if (S_ISDIR(target.st_mode)) {
        // Following directory links invites loops and scans outside what was asked for.
        add(child, root, child_relative,
            "a symlink to a directory: not followed (name that directory to scan it)", {});
      } else {
        add_file(child, root, child_relative, target);
      }
    }
  }

  const InputNameFilter& wanted_;
  std::vector<InputFile> inputs_;
  std::filesystem::path typed_;
  bool walking_ = false;
};

} // namespace

std::vector<InputFile> collect_input_files(const std::vector<std::filesystem::path>& paths,
                                           const InputNameFilter& wanted) {
  Collector collector(wanted);
  for (const auto& path : paths) {
    collector.add_argument(path);
  }
  return collector.take();
}

} // namespace loadmatrix
