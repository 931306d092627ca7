// The central directory of a zip, read straight from the file's bytes (mapped when large).
// torch.save writes one member per tensor storage, and libzip's zip_open builds its own index of
// every member: for a training checkpoint that cost more than the walk, before a byte of pickle
// was read (bench/README.md). This reads only what the static pass needs, stored members only; any
// archive it does not handle (deflated members, encryption, anything malformed) is left to libzip,
// which is the authority on errors.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace loadmatrix {

struct ZipEntry {
  std::string_view name;
  uint16_t flags = 0;
  uint16_t method = 0; // 0: stored
  uint64_t compressed_size = 0;
  uint64_t size = 0;
  uint64_t local_header = 0;
};

// Where the central directory lies, from the end record (and its ZIP64 form); nullopt when
// there is none this reader handles.
struct ZipDirectory {
  uint64_t entries = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
};
std::optional<ZipDirectory> find_zip_directory(std::string_view archive);

// Reads the directory entry at `at` into `entry` and moves `at` past it; false when it is
// malformed or runs past `end`, the end of the directory find_zip_directory found.
bool read_zip_entry(std::string_view archive, uint64_t& at, uint64_t end, ZipEntry& entry);

// Calls `visit` on each entry in directory order, keeping none: a 12,000-member checkpoint's
// entries would be half a megabyte to allocate, fault in and free per file, for the two or
// three the scan wants. False when the archive is not one this reader handles; `visit` may
// have seen some entries by then, so a caller keeps nothing it saw unless this returns true.
// A template, so the visit is inlined: called through std::function it was a third of this
// walk over such a checkpoint's directory.
template <typename Visit> bool for_each_zip_entry(std::string_view archive, Visit&& visit) {
  std::optional<ZipDirectory> directory = find_zip_directory(archive);
  if (!directory) {
    return false;
  }
  uint64_t at = directory->offset;
  uint64_t end = directory->offset + directory->size;
  for (uint64_t i = 0; i < directory->entries; ++i) {
    ZipEntry entry;
    if (!read_zip_entry(archive, at, end, entry)) {
      return false;
    }
    visit(static_cast<const ZipEntry&>(entry));
  }
  return true;
}

// A stored, unencrypted member's bytes, bounds-checked; nullopt otherwise.
std::optional<std::string_view> stored_member(std::string_view archive, const ZipEntry& entry);

} // namespace loadmatrix
