#include "util/file_contents.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace loadmatrix {

namespace {

// Closes the descriptor on every path out.
struct Descriptor {
  int fd;
  ~Descriptor() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

// A thread's spare buffer for small files. A file's bytes live in a buffer until its contents
// are released, and the buffer then comes back here for the thread's next file, rather than a
// few-KB buffer being allocated, zero-filled and freed for every file (measured with callgrind:
// bench/README.md).
thread_local std::string spare_buffer;

} // namespace

Expected<std::shared_ptr<const FileContents>>
FileContents::open(const std::filesystem::path& file) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  Descriptor descriptor{::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (descriptor.fd < 0) {
    return Error{fmt::format("{}: cannot open: {}", file.string(), std::strerror(errno))};
  }
  struct stat info;
  if (::fstat(descriptor.fd, &info) != 0) {
    return Error{fmt::format("{}: cannot stat: {}", file.string(), std::strerror(errno))};
  }
  if (!S_ISREG(info.st_mode)) {
    return Error{fmt::format("{}: not a regular file", file.string())};
  }
  std::shared_ptr<FileContents> contents(new FileContents());
  auto size = static_cast<uint64_t>(info.st_size);
  if (size <= kReadLimit) {
    contents->read_.swap(spare_buffer);
    contents->read_.resize(size);
    size_t filled = 0;
    while (filled < size) {
      ssize_t got = ::pread(descriptor.fd, contents->read_.data() + filled, size - filled,
                            static_cast<off_t>(filled));
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got < 0) {
        return Error{fmt::format("{}: cannot read: {}", file.string(), std::strerror(errno))};
      }
      if (got == 0) {
        break; // it shrank while we read: what was there is what is analysed
      }
      filled += static_cast<size_t>(got);
    }
    contents->read_.resize(filled);
    contents->data_ = contents->read_.data();
    contents->size_ = filled;
    return std::shared_ptr<const FileContents>(std::move(contents));
  }
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, descriptor.fd, 0);
  if (data == MAP_FAILED) {
    return Error{fmt::format("{}: cannot map: {}", file.string(), std::strerror(errno))};
  }
  contents->data_ = static_cast<const char*>(data);
  contents->size_ = size;
  contents->mapped_ = true; // the mapping keeps the file once the descriptor closes
  return std::shared_ptr<const FileContents>(std::move(contents));
}

FileContents::~FileContents() {
  if (mapped_) {
    ::munmap(const_cast<char*>(data_), size_);
  } else if (read_.capacity() > spare_buffer.capacity()) {
    spare_buffer.swap(read_);
  }
}

} // namespace loadmatrix
