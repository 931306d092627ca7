#include "pickle/zip_directory.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace loadmatrix {

namespace {

// Little-endian reads that refuse to leave `bytes`.
class Reader {
public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool has(uint64_t offset, uint64_t length) const {
    return offset <= bytes_.size() && length <= bytes_.size() - offset;
  }
  // One load per field (the caller has checked the bounds): a byte loop here ran for all of a
  // 12,004-member directory's fields.
  template <size_t Width> uint64_t le(uint64_t offset) const {
    static_assert(std::endian::native == std::endian::little, "zip fields are little-endian");
    uint64_t value = 0;
    std::memcpy(&value, bytes_.data() + offset, Width);
    return value;
  }
  bool signature(uint64_t offset, std::string_view magic) const {
    return has(offset, magic.size()) && bytes_.substr(offset, magic.size()) == magic;
  }
  std::string_view slice(uint64_t offset, uint64_t length) const {
    return bytes_.substr(offset, length);
  }
  uint64_t size() const { return bytes_.size(); }

private:
  std::string_view bytes_;
};

constexpr std::string_view kEndOfDirectory = "PK\x05\x06";
constexpr std::string_view kZip64Locator = "PK\x06\x07";
constexpr std::string_view kZip64End = "PK\x06\x06";
constexpr uint32_t kDirectoryEntryMagic = 0x02014b50; // "PK\x01\x02", read little-endian
constexpr std::string_view kLocalHeader = "PK\x03\x04";
constexpr uint32_t kZip64Marker = 0xffffffff;

std::optional<ZipDirectory> find_directory(const Reader& zip) {
  // The end record is the last thing in the file, before a comment of at most 65535 bytes.
  if (zip.size() < 22) {
    return std::nullopt;
  }
  uint64_t lowest = zip.size() >= 22 + 65535 ? zip.size() - 22 - 65535 : 0;
  uint64_t end = zip.size() - 22;
  while (!zip.signature(end, kEndOfDirectory)) {
    if (end == lowest) {
      return std::nullopt;
    }
    --end;
  }
  ZipDirectory directory{zip.le<2>(end + 10), zip.le<4>(end + 16), zip.le<4>(end + 12)};
  if (end >= 20 && zip.signature(end - 20, kZip64Locator)) {
    uint64_t record = zip.le<8>(end - 20 + 8);
    if (!zip.has(record, 56) || !zip.signature(record, kZip64End)) {
      return std::nullopt;
    }
    directory = {zip.le<8>(record + 32), zip.le<8>(record + 48), zip.le<8>(record + 40)};
  }
  if (!zip.has(directory.offset, directory.size) || directory.entries > directory.size / 46) {
    return std::nullopt;
  }
  return directory;
}

// The ZIP64 extra field replaces, in order, each 32-bit field that holds 0xffffffff.
bool apply_zip64_extra(const Reader& zip, uint64_t extra, uint64_t length, ZipEntry& entry,
                       bool size_marked, bool compressed_marked, bool offset_marked) {
  for (uint64_t at = extra; at + 4 <= extra + length;) {
    uint64_t id = zip.le<2>(at);
    uint64_t field = zip.le<2>(at + 2);
    if (at + 4 + field > extra + length) {
      return false;
    }
    if (id == 1) {
      uint64_t value = at + 4;
      for (auto [marked, target] : {std::pair{size_marked, &entry.size},
                                    std::pair{compressed_marked, &entry.compressed_size},
                                    std::pair{offset_marked, &entry.local_header}}) {
        if (!marked) {
          continue;
        }
        if (value + 8 > at + 4 + field) {
          return false;
        }
        *target = zip.le<8>(value);
        value += 8;
      }
      return true;
    }
    at += 4 + field;
  }
  return !(size_marked || compressed_marked || offset_marked);
}

} // namespace

std::optional<ZipDirectory> find_zip_directory(std::string_view archive) {
  return find_directory(Reader(archive));
}

bool read_zip_entry(std::string_view archive, uint64_t& at, uint64_t end, ZipEntry& entry) {
  // find_directory checked that the directory, [at, end), lies inside the archive: an entry
  // that ends by `end` needs no other bounds check. This runs once per tensor.
  Reader zip(archive);
  if (at + 46 > end || zip.le<4>(at) != kDirectoryEntryMagic) {
    return false;
  }
  entry.flags = static_cast<uint16_t>(zip.le<2>(at + 8));
  entry.method = static_cast<uint16_t>(zip.le<2>(at + 10));
  entry.compressed_size = zip.le<4>(at + 20);
  entry.size = zip.le<4>(at + 24);
  uint64_t name_length = zip.le<2>(at + 28);
  uint64_t extra_length = zip.le<2>(at + 30);
  uint64_t comment_length = zip.le<2>(at + 32);
  entry.local_header = zip.le<4>(at + 42);
  uint64_t next = at + 46 + name_length + extra_length + comment_length;
  if (next > end) {
    return false;
  }
  entry.name = std::string_view(archive.data() + at + 46, name_length);
  bool size_marked = entry.size == kZip64Marker;
  bool compressed_marked = entry.compressed_size == kZip64Marker;
  bool offset_marked = entry.local_header == kZip64Marker;
  if ((size_marked || compressed_marked || offset_marked) &&
      !apply_zip64_extra(zip, at + 46 + name_length, extra_length, entry, size_marked,
                         compressed_marked, offset_marked)) {
    return false;
  }
  at = next;
  return true;
}

std::optional<std::string_view> stored_member(std::string_view archive, const ZipEntry& entry) {
  Reader zip(archive);
  // Stored and unencrypted only; the local header's own name and extra lengths locate the data.
  if (entry.method != 0 || (entry.flags & 1) != 0 || entry.size != entry.compressed_size ||
      !zip.has(entry.local_header, 30) || !zip.signature(entry.local_header, kLocalHeader)) {
    return std::nullopt;
  }
  uint64_t data = entry.local_header + 30 + zip.le<2>(entry.local_header + 26) +
                  zip.le<2>(entry.local_header + 28);
  if (!zip.has(data, entry.size)) {
    return std::nullopt;
  }
  return zip.slice(data, entry.size);
}

} // namespace loadmatrix
