// A whole file's bytes from one open: a small file is read into memory, a large one is
// memory-mapped, so the kernel reads only the pages that are touched and analysing the pickles
// at the front of a multi-GB checkpoint never reads its tensors.
#pragma once

#include "util/error.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace loadmatrix {

class FileContents {
public:
  // Files up to this size are read: for a checkpoint of a few KB, mapping and unmapping cost
  // more than the read itself.
  static constexpr uint64_t kReadLimit = 256u << 10;

  // Fails, naming the file, on what cannot be opened or is not a regular file (a FIFO is
  // refused without blocking).
  static Expected<std::shared_ptr<const FileContents>> open(const std::filesystem::path& file);
  ~FileContents();
  FileContents(const FileContents&) = delete;
  FileContents& operator=(const FileContents&) = delete;

  std::string_view bytes() const { return {data_, size_}; }

private:
  FileContents() = default;
  std::string read_; // a small file's bytes
  const char* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
};

} // namespace loadmatrix
