#include "pickle/checkpoint_file.h"

#include "pickle/pickle_analysis.h"
#include "pickle/zip_directory.h"

#include <algorithm>
#include <cctype>
#include <fmt/core.h>
#include <memory>
#include <optional>
#include <zip.h>

namespace loadmatrix {

const char* checkpoint_format_id(CheckpointFormat format) {
  switch (format) {
  case CheckpointFormat::torch_zip:
    return "zip";
  case CheckpointFormat::torchscript:
    return "torchscript";
  case CheckpointFormat::torchscript_legacy:
    return "torchscript_legacy";
  case CheckpointFormat::legacy:
    return "legacy";
  case CheckpointFormat::legacy_tar:
    return "legacy_tar";
  case CheckpointFormat::raw_pickle:
    return "pickle";
  case CheckpointFormat::numpy_npy:
    return "npy";
  case CheckpointFormat::safetensors:
    return "safetensors";
  case CheckpointFormat::not_a_checkpoint:
    return "not_a_checkpoint";
  }
  return "unknown";
}

namespace {

// The legacy format's first pickle: protocol 2, LONG1 of torch's magic number
// 0x1950a86a20f9469cfc6c.
constexpr std::string_view kLegacyMagic =
    "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.";

// The members whose pickles torch reads, and whether the archive is TorchScript, by name.
bool is_pickle_member(std::string_view name) {
  return name == "data.pkl" || name.ends_with("/data.pkl") || name.ends_with("/constants.pkl");
}
// What torch.load itself tests (serialization._is_torchscript_zip: a "constants.pkl" record),
// and nothing more: an archive with code/ but no constants.pkl is unpickled like any checkpoint.
bool marks_torchscript(std::string_view name) {
  return name.ends_with("/constants.pkl");
}

void note_writer_record(std::string_view name, CheckpointFile& file) {
  file.byteorder_record = file.byteorder_record || name.ends_with("/byteorder");
  file.format_version_record = file.format_version_record || name.ends_with("/.format_version");
}

// The fast path: stored members found through the central directory of the mapped file
// (what torch.save writes). Anything else returns nullopt and goes to libzip.
std::optional<CheckpointFile> read_stored_zip(std::string_view archive, size_t max_member_bytes) {
  CheckpointFile result;
  result.format = CheckpointFormat::torch_zip;
  bool readable = true; // every pickle member stored, in bounds and under the limit
  bool handled = for_each_zip_entry(archive, [&](const ZipEntry& entry) {
    note_writer_record(entry.name, result);
    if (!entry.name.ends_with(".pkl")) {
      return; // a tensor's record: all but a few of a checkpoint's entries
    }
    if (marks_torchscript(entry.name)) {
      result.format = CheckpointFormat::torchscript;
    }
    if (!readable || !is_pickle_member(entry.name)) {
      return;
    }
    auto bytes = stored_member(archive, entry);
    if (!bytes || bytes->size() > max_member_bytes) {
      readable = false;
      return;
    }
    result.pickles.push_back({std::string(entry.name), *bytes, nullptr});
  });
  if (!handled || !readable || result.pickles.empty()) {
    return std::nullopt;
  }
  return result;
}

Expected<CheckpointFile> read_zip_with_libzip(const std::filesystem::path& file,
                                              size_t max_member_bytes) {
  int code = 0;
  std::unique_ptr<zip_t, decltype(&zip_discard)> archive(zip_open(file.c_str(), ZIP_RDONLY, &code),
                                                         &zip_discard);
  if (!archive) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    std::string reason = zip_error_strerror(&error);
    zip_error_fini(&error);
    return Error{fmt::format("{}: not a readable zip: {}", file.string(), reason)};
  }
  CheckpointFile result;
  result.format = CheckpointFormat::torch_zip;
  std::vector<zip_uint64_t> members;
  bool model_json = false;
  bool pickle_like = false;
  zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    const char* raw = zip_get_name(archive.get(), static_cast<zip_uint64_t>(i), 0);
    std::string name = raw ? raw : "";
    if (marks_torchscript(name)) {
      result.format = CheckpointFormat::torchscript;
    }
    if (is_pickle_member(name)) {
      members.push_back(static_cast<zip_uint64_t>(i));
    }
    model_json = model_json || name == "model.json" || name.ends_with("/model.json");
    note_writer_record(name, result);
    // torch finds records through miniz, which compares raw names without case: a member any
    // spelling of which torch.load could read as a pickle keeps the archive from being one
    // torch.load cannot unpickle.
    for (const char* spelling :
         {raw, zip_get_name(archive.get(), static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW)}) {
      std::string lower = spelling ? spelling : "";
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      pickle_like = pickle_like || lower.ends_with("data.pkl") || lower.ends_with("constants.pkl");
    }
  }
  if (members.empty() && model_json && !pickle_like) {
    result.format = CheckpointFormat::torchscript_legacy;
    return result; // nothing torch.load unpickles: it stops before any pickle
  }
  if (members.empty()) {
    return Error{
        fmt::format("{}: a zip without a data.pkl member: not a torch checkpoint", file.string())};
  }
  for (zip_uint64_t index : members) {
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(archive.get(), index, 0, &stat) != 0 || !(stat.valid & ZIP_STAT_SIZE)) {
      return Error{fmt::format("{}: cannot stat member {}", file.string(), index)};
    }
    std::string name = stat.name ? stat.name : "?";
    // The declared size bounds the read, so a deflate bomb cannot grow past it.
    if (stat.size > max_member_bytes) {
      return Error{fmt::format("{}: member {} declares {} bytes, over the {}-byte limit",
                               file.string(), name, stat.size, max_member_bytes)};
    }
    std::unique_ptr<zip_file_t, decltype(&zip_fclose)> member(
        zip_fopen_index(archive.get(), index, 0), &zip_fclose);
    if (!member) {
      return Error{fmt::format("{}: cannot open member {}: {}", file.string(), name,
                               zip_strerror(archive.get()))};
    }
    auto bytes = std::make_shared<std::string>(stat.size, '\0');
    zip_int64_t read = zip_fread(member.get(), bytes->data(), stat.size);
    if (read < 0 || static_cast<zip_uint64_t>(read) != stat.size) {
      return Error{fmt::format("{}: member {} is truncated or corrupt ({} of {} bytes)",
                               file.string(), name, read, stat.size)};
    }
    result.pickles.push_back({name, *bytes, bytes});
  }
  return result;
}

Expected<CheckpointFile> read_zip(const std::filesystem::path& file, std::string_view archive,
                                  size_t max_member_bytes) {
  if (auto fast = read_stored_zip(archive, max_member_bytes)) {
    return std::move(fast).value();
  }
  return read_zip_with_libzip(file, max_member_bytes);
}

// The oldest format: a tar whose "pickle" member holds the object.
Expected<CheckpointFile> read_tar(std::string_view data, const std::filesystem::path& file,
                                  size_t max_member_bytes) {
  CheckpointFile result;
  result.format = CheckpointFormat::legacy_tar;
  auto field = [&](size_t at, size_t width) {
    std::string_view raw = data.substr(at, width);
    return std::string(raw.substr(0, raw.find('\0')));
  };
  for (size_t offset = 0; offset + 512 <= data.size();) {
    std::string name = field(offset, 100);
    if (name.empty()) {
      break;
    }
    size_t size = std::strtoull(field(offset + 124, 12).c_str(), nullptr, 8);
    if (size > data.size() || offset + 512 + size > data.size()) {
      return Error{fmt::format("{}: tar member {} is truncated", file.string(), name)};
    }
    if (name == "pickle") {
      if (size > max_member_bytes) {
        return Error{fmt::format("{}: tar member pickle is {} bytes, over the {}-byte limit",
                                 file.string(), size, max_member_bytes)};
      }
      result.pickles.push_back({"pickle", data.substr(offset + 512, size), nullptr});
    }
    offset += 512 + (size + 511) / 512 * 512;
  }
  if (result.pickles.empty()) {
    return Error{
        fmt::format("{}: a tar without a 'pickle' member: not a torch checkpoint", file.string())};
  }
  return result;
}

Expected<CheckpointFile> read_format(const std::filesystem::path& file, std::string_view data,
                                     size_t max_member_bytes) {
  std::string_view head = data.substr(0, 512);
  if (head.starts_with("PK\x03\x04") || head.starts_with("PK\x05\x06")) {
    return read_zip(file, data, max_member_bytes);
  }
  CheckpointFile result;
  if (head.starts_with("\x93NUMPY")) {
    result.format = CheckpointFormat::numpy_npy;
    return result;
  }
  if (head.size() >= 9 && head[8] == '{') {
    result.format = CheckpointFormat::safetensors;
    return result;
  }
  bool tar = head.size() >= 262 && head.compare(257, 5, "ustar") == 0;
  bool pickle = head.size() >= 2 && static_cast<uint8_t>(head[0]) == 0x80 &&
                static_cast<uint8_t>(head[1]) <= 5;
  // Protocols 0 and 1 have no header: such a file is a pickle when it parses to its end.
  bool headerless =
      !head.empty() && std::string_view("(c]})NIFLSVXdilt").find(head[0]) != std::string_view::npos;
  if (!tar && !pickle && !headerless) {
    return result; // not_a_checkpoint: said so, never called clean
  }
  if (tar) {
    return read_tar(data, file, max_member_bytes);
  }
  // A raw pickle is all pickle: it is read whole, so it is bounded like a zip member.
  if (!data.starts_with(kLegacyMagic) && data.size() > max_member_bytes) {
    return Error{fmt::format("{}: a {}-byte pickle, over the {}-byte limit", file.string(),
                             data.size(), max_member_bytes)};
  }
  if (!pickle) {
    auto analysis = analyze_pickle(data);
    if (!analysis || analysis->end_offset != data.size()) {
      return result; // text that merely starts like a pickle
    }
  }
  if (!data.starts_with(kLegacyMagic)) {
    result.format = CheckpointFormat::raw_pickle;
    result.pickles.push_back({"pickle", data, nullptr});
    return result;
  }
  // Legacy: magic, protocol version, sys_info, the object, then the storage keys; raw storage
  // bytes follow and are never read as pickles.
  result.format = CheckpointFormat::legacy;
  size_t offset = 0;
  for (int index = 0; index < 5 && offset < data.size(); ++index) {
    auto analysis = analyze_pickle(data.substr(offset));
    if (!analysis) {
      return Error{fmt::format("{}: legacy pickle {} at byte {}: {}", file.string(), index, offset,
                               analysis.error().message)};
    }
    result.pickles.push_back(
        {fmt::format("legacy[{}]", index), data.substr(offset, analysis->end_offset), nullptr});
    offset += analysis->end_offset;
  }
  return result;
}

} // namespace

Expected<CheckpointFile> read_checkpoint_file(const std::filesystem::path& file,
                                              size_t max_member_bytes) {
  auto contents = FileContents::open(file);
  if (!contents) {
    return contents.error();
  }
  auto result = read_format(file, (*contents)->bytes(), max_member_bytes);
  if (result) {
    result->size = (*contents)->bytes().size();
    result->contents = std::move(contents).value();
  }
  return result;
}

} // namespace loadmatrix
