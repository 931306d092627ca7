#include "scan/torchscript_skeleton.h"

#include <fmt/core.h>
#include <memory>
#include <string>
#include <string_view>
#include <zip.h>

namespace loadmatrix {

namespace {

// ".../data/12" or ".../constants/3": where torch.jit.save puts a storage's bytes (".../tensors/3"
// in the 1.0-1.2 layout).
bool is_storage_record(std::string_view name) {
  size_t slash = name.rfind('/');
  if (slash == std::string_view::npos || slash + 1 == name.size()) {
    return false;
  }
  std::string_view key = name.substr(slash + 1);
  if (key.find_first_not_of("0123456789") != std::string_view::npos) {
    return false;
  }
  std::string_view dir = name.substr(0, slash);
  for (std::string_view records : {"data", "constants", "tensors"}) {
    if (dir == records || (dir.size() > records.size() && dir.ends_with(records) &&
                           dir[dir.size() - records.size() - 1] == '/')) {
      return true;
    }
  }
  return false;
}

std::string zip_reason(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string reason = zip_error_strerror(&error);
  zip_error_fini(&error);
  return reason;
}

} // namespace

Expected<uint64_t> write_torchscript_skeleton(const std::filesystem::path& archive,
                                              const std::filesystem::path& out,
                                              uint64_t max_kept_bytes) {
  int code = 0;
  std::unique_ptr<zip_t, decltype(&zip_discard)> source(
      zip_open(archive.c_str(), ZIP_RDONLY, &code), &zip_discard);
  if (!source) {
    return Error{fmt::format("{}: not a readable zip: {}", archive.string(), zip_reason(code))};
  }
  // ZIP_EXCL: the scan's private scratch directory holds no such file; never write through one.
  std::unique_ptr<zip_t, decltype(&zip_discard)> target(
      zip_open(out.c_str(), ZIP_CREATE | ZIP_EXCL, &code), &zip_discard);
  if (!target) {
    return Error{fmt::format("{}: cannot create: {}", out.string(), zip_reason(code))};
  }
  uint64_t kept = 0;
  zip_int64_t entries = zip_get_num_entries(source.get(), 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    auto index = static_cast<zip_uint64_t>(i);
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(source.get(), index, ZIP_FL_ENC_RAW, &stat) != 0 || !stat.name ||
        !(stat.valid & ZIP_STAT_SIZE)) {
      return Error{fmt::format("{}: cannot stat member {}", archive.string(), index)};
    }
    std::string_view name = stat.name;
    bool storage = is_storage_record(name);
    zip_source_t* member = nullptr;
    if (storage) {
      member = zip_source_buffer(target.get(), nullptr, 0, 0);
    } else {
      // The declared size bounds what is copied; libzip checks the bytes against it and the CRC.
      // Compared before adding: a forged zip64 size must not wrap the sum around.
      if (stat.size > max_kept_bytes - kept) {
        return Error{fmt::format("{}: more than {} bytes of code and records besides its tensor "
                                 "data (member {})",
                                 archive.string(), max_kept_bytes, name)};
      }
      kept += stat.size;
      member = zip_source_zip(target.get(), source.get(), index, 0, 0, -1);
    }
    if (!member) {
      return Error{
          fmt::format("{}: member {}: {}", archive.string(), name, zip_strerror(target.get()))};
    }
    zip_int64_t added = zip_file_add(target.get(), stat.name, member, ZIP_FL_ENC_GUESS);
    if (added < 0) {
      zip_source_free(member);
      return Error{
          fmt::format("{}: member {}: {}", archive.string(), name, zip_strerror(target.get()))};
    }
    zip_set_file_compression(target.get(), static_cast<zip_uint64_t>(added), ZIP_CM_STORE, 0);
  }
  if (zip_close(target.get()) != 0) {
    return Error{fmt::format("{}: writing the skeleton of {}: {}", out.string(), archive.string(),
                             zip_strerror(target.get()))};
  }
  target.release(); // zip_close freed it
  return kept;
}

} // namespace loadmatrix
