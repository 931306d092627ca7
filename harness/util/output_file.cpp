#include "util/output_file.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace loadmatrix {

namespace {

// Linux's own limit on links followed in one lookup (MAXSYMLINKS).
constexpr int kMaxLinks = 40;
// How long writing to a FIFO waits for a reader before it gives up instead of hanging a job.
constexpr auto kFifoReaderWait = std::chrono::seconds(30);

Error errno_error(const std::string& path, const char* call, int error) {
  return Error{fmt::format("{}: {}: {}", path, call, std::strerror(error))};
}

bool is_standard_output(const struct stat& info) {
  struct stat out;
  return ::fstat(STDOUT_FILENO, &out) == 0 && out.st_dev == info.st_dev &&
         out.st_ino == info.st_ino;
}

// Follows `path` while it is a symlink; the result is not a symlink (or does not exist).
Expected<std::filesystem::path> final_target(std::filesystem::path path, const std::string& given) {
  for (int hops = 0; hops < kMaxLinks; ++hops) {
    std::error_code ec;
    auto status = std::filesystem::symlink_status(path, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return Error{fmt::format("{}: {}", given, ec.message())};
    }
    if (!std::filesystem::is_symlink(status)) {
      return path;
    }
    auto target = std::filesystem::read_symlink(path, ec);
    if (ec) {
      return Error{fmt::format("{}: readlink: {}", given, ec.message())};
    }
    path = target.is_absolute() ? target : path.parent_path() / target;
  }
  return Error{fmt::format("{}: too many levels of symbolic links", given)};
}

Expected<void> write_in_place(const OutputTarget& target, std::string_view data) {
  // O_NONBLOCK makes opening a FIFO without a reader fail (ENXIO) instead of hanging; only a
  // FIFO is waited for (a device without a driver fails with ENXIO too).
  struct stat info;
  bool fifo = ::stat(target.path.c_str(), &info) == 0 && S_ISFIFO(info.st_mode);
  auto deadline = std::chrono::steady_clock::now() + kFifoReaderWait;
  int fd = -1;
  for (;;) {
    fd = ::open(target.path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0 || errno != ENXIO || !fifo || std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (fd < 0) {
    return errno == ENXIO && fifo ? Error{fmt::format("{}: a FIFO no reader opened within {} s",
                                                      target.given, kFifoReaderWait.count())}
                                  : errno_error(target.given, "open", errno);
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  auto written = write_all(fd, data, target.given);
  ::close(fd);
  return written;
}

Expected<void> replace_atomically(const OutputTarget& target, std::string_view data) {
  // mkostemp creates the temp file exclusively (O_EXCL), so nothing placed at a guessable name
  // beforehand, such as a symlink, is followed.
  auto dir =
      target.path.parent_path().empty() ? std::filesystem::path(".") : target.path.parent_path();
  // The name's head only: a 255-byte name plus the suffix would pass NAME_MAX.
  std::string head = target.path.filename().string().substr(0, 200);
  std::string temp = (dir / ("." + head + ".XXXXXX")).string();
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) {
    return errno_error(temp, "create", errno);
  }
  struct stat existing;
  mode_t mode = ::stat(target.path.c_str(), &existing) == 0 ? existing.st_mode & 07777 : 0644;
  auto fail = [&](Error error) {
    ::close(fd);
    ::unlink(temp.c_str());
    return error;
  };
  if (::fchmod(fd, mode) != 0) {
    return fail(errno_error(temp, "chmod", errno));
  }
  if (auto written = write_all(fd, data, temp); !written) {
    return fail(written.error());
  }
  if (::fsync(fd) != 0) {
    return fail(errno_error(temp, "fsync", errno));
  }
  if (::close(fd) != 0) {
    int saved = errno;
    ::unlink(temp.c_str());
    return errno_error(temp, "close", saved);
  }
  if (::rename(temp.c_str(), target.path.c_str()) != 0) {
    int saved = errno;
    ::unlink(temp.c_str());
    return Error{fmt::format("{}: rename {}: {}", target.given, temp, std::strerror(saved))};
  }
  return {};
}

} // namespace

Expected<OutputTarget> resolve_output(const std::string& path) {
  OutputTarget target;
  target.given = path;
  if (path == "-") {
    target.kind = OutputTarget::Kind::standard_output;
    return target;
  }
  if (path.empty()) {
    return Error{"an empty path is not a file to write"};
  }
  // stat follows links in the kernel, including /proc's magic ones (/dev/stdout ->
  // /proc/self/fd/1 -> "pipe:[123]"), which no readlink chain can follow.
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    if (errno != ENOENT) {
      return errno_error(path, "stat", errno);
    }
    // Nothing there, or a dangling symlink: the file is created where the links end.
    auto resolved = final_target(path, path);
    if (!resolved) {
      return resolved.error();
    }
    target.path = *resolved;
    auto parent =
        target.path.parent_path().empty() ? std::filesystem::path(".") : target.path.parent_path();
    struct stat dir;
    if (::stat(parent.c_str(), &dir) != 0 || !S_ISDIR(dir.st_mode)) {
      return Error{fmt::format("{}: {} is not an existing directory", path, parent.string())};
    }
    target.kind = OutputTarget::Kind::replace_atomically;
    return target;
  }
  target.path = path;
  // A pipe or file that is already our stdout (`--json /dev/stdout > out.json`) is written
  // through fd 1, so it is neither truncated under our own output nor renamed away.
  if ((S_ISREG(info.st_mode) || S_ISFIFO(info.st_mode)) && is_standard_output(info)) {
    target.kind = OutputTarget::Kind::standard_output;
  } else if (S_ISREG(info.st_mode)) {
    // The rename must happen where the file is, not over a link to it.
    std::error_code ec;
    target.path = std::filesystem::canonical(path, ec);
    if (ec) {
      return Error{fmt::format("{}: {}", path, ec.message())};
    }
    target.kind = OutputTarget::Kind::replace_atomically;
  } else if (S_ISCHR(info.st_mode) || S_ISFIFO(info.st_mode)) {
    target.kind = OutputTarget::Kind::in_place;
  } else if (S_ISDIR(info.st_mode)) {
    return Error{fmt::format("{}: is a directory", path)};
  } else if (S_ISBLK(info.st_mode)) {
    return Error{fmt::format("{}: is a block device; loadmatrix does not write over one", path)};
  } else {
    return Error{fmt::format("{}: is a socket or other special file, not a file to write", path)};
  }
  return target;
}

Expected<void> write_output(const OutputTarget& target, std::string_view data) {
  switch (target.kind) {
  case OutputTarget::Kind::standard_output:
    return write_all(STDOUT_FILENO, data, "standard output");
  case OutputTarget::Kind::in_place:
    return write_in_place(target, data);
  case OutputTarget::Kind::replace_atomically:
    return replace_atomically(target, data);
  }
  return Error{"internal: unknown output kind"};
}

Expected<void> write_output_file(const std::filesystem::path& path, std::string_view data) {
  auto target = resolve_output(path.string());
  if (!target) {
    return target.error();
  }
  return write_output(*target, data);
}

Expected<void> prepare_output_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  auto status = std::filesystem::status(dir, ec); // through symlinks
  if (std::filesystem::is_directory(status)) {
    return {};
  }
  if (std::filesystem::exists(status) ||
      std::filesystem::is_symlink(std::filesystem::symlink_status(dir, ec))) {
    return Error{fmt::format("{}: exists and is not a directory", dir.string())};
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Error{fmt::format("{}: cannot create the directory: {}", dir.string(), ec.message())};
  }
  return {};
}

Expected<int> open_output_stream(const std::filesystem::path& path, StreamStart start) {
  auto target = resolve_output(path.string());
  if (!target) {
    return target.error();
  }
  if (target->kind == OutputTarget::Kind::standard_output) {
    int fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    return fd >= 0 ? Expected<int>(fd) : Expected<int>(errno_error(path, "dup", errno));
  }
  int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY;
  if (target->kind == OutputTarget::Kind::replace_atomically) {
    flags |= O_CREAT | O_APPEND | (start == StreamStart::kTruncate ? O_TRUNC : 0);
  }
  int fd = ::open(target->path.c_str(), flags, 0644);
  if (fd < 0) {
    return errno_error(path.string(), "open", errno);
  }
  return fd;
}

Expected<void> write_all(int fd, std::string_view data, const std::string& what) {
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error{fmt::format("write {}: {}", what, std::strerror(errno))};
    }
    written += static_cast<size_t>(n);
  }
  return {};
}

} // namespace loadmatrix
