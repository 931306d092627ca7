// A read-only memory map of a whole file: the kernel reads only the pages that are touched,
// so analysing the pickles at the front of a multi-GB checkpoint never reads its tensors.
#pragma once

#include "util/error.h"

#include <filesystem>
#include <memory>
#include <string_view>

namespace loadmatrix {

class MappedFile {
public:
  static Expected<std::unique_ptr<MappedFile>> open(const std::filesystem::path& file);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

private:
  MappedFile(void* data, size_t size) : data_(data), size_(size) {}
  void* data_ = nullptr;
  size_t size_ = 0;
};

} // namespace loadmatrix
