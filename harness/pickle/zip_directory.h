// The central directory of a zip, read straight from the file's bytes (mapped when large).
// torch.save writes one member per tensor storage, and libzip's zip_open builds its own index at
// about 2 us per member: a training checkpoint with 12,000 members cost 25 ms before a byte of
// pickle was read. This reads only what the static pass needs, stored members only; any archive it
// does not handle (deflated members, encryption, anything malformed) is left to libzip, which is
// the authority on errors.
#pragma once

#include <cstdint>
#include <functional>
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

// Calls `visit` on each entry in directory order, keeping none: a 12,000-member checkpoint's
// entries would be half a megabyte to allocate, fault in and free per file, for the two or
// three the scan wants. False when the archive is not one this reader handles; `visit` may
// have seen some entries by then, so a caller keeps nothing it saw unless this returns true.
bool for_each_zip_entry(std::string_view archive,
                        const std::function<void(const ZipEntry&)>& visit);

// A stored, unencrypted member's bytes, bounds-checked; nullopt otherwise.
std::optional<std::string_view> stored_member(std::string_view archive, const ZipEntry& entry);

} // namespace loadmatrix
