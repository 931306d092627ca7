#include "scan/file_scan.h"

#include "pickle/checkpoint_file.h"
#include "pickle/pickle_analysis.h"
#include "records/classify.h"

#include <algorithm>
#include <fmt/core.h>
#include <set>

namespace loadmatrix {

const char* file_status_id(FileStatus status) {
  switch (status) {
  case FileStatus::checkpoint:
    return "checkpoint";
  case FileStatus::error:
    return "error";
  case FileStatus::not_a_checkpoint:
    return "not_a_checkpoint";
  case FileStatus::other_format:
    return "other_format";
  case FileStatus::skipped:
    return "skipped";
  }
  return "error";
}

namespace {

// torch.load of a torch zip unpickles only data.pkl; a TorchScript archive's constants.pkl and
// code are read by torch.jit.load. Every pickle still counts for the dangerous check.
bool read_by_torch_load(const CheckpointFile& file, const PickleMember& member) {
  return file.format != CheckpointFormat::torch_zip || member.name == "data.pkl" ||
         member.name.ends_with("/data.pkl");
}

// Merges one pickle's globals into the file's: every dangerous one, in any pickle; the others
// only from the pickles torch.load reads (`read`), each at its first use across them.
void add_globals(FileScan& scan, std::vector<GlobalUse> globals, bool read, StreamPosition base,
                 std::set<std::string>& dangerous) {
  for (auto& global : globals) {
    bool is_dangerous = is_dangerous_global(global.name);
    // Names come from untrusted bytes: reports and JSON get them as valid UTF-8. The analysis
    // is not used after this, so its strings are taken over, not copied.
    std::string name = printable_name(std::move(global.name));
    if (is_dangerous) { // in any pickle of the file, read by torch.load or not
      dangerous.insert(name);
    }
    if (!read) {
      continue;
    }
    auto known = std::find_if(scan.globals.begin(), scan.globals.end(),
                              [&](const ScannedGlobal& g) { return g.name == name; });
    if (known == scan.globals.end()) {
      scan.globals.push_back({std::move(name),
                              printable_name(std::move(global.raw_name)),
                              printable_name(std::move(global.module)),
                              {},
                              base + global.first_offset,
                              is_dangerous});
      known = scan.globals.end() - 1;
    }
    for (const auto& [use, offset] : global.uses) {
      known->uses.emplace(use, base + offset); // an earlier pickle's first use stays first
    }
  }
}

// FileScan::written_by, measured on what 1.1, 1.7, 1.13, 2.0, 2.1, 2.5, 2.6 and 2.14 write.
std::string written_by(const FileScan& scan, const CheckpointFile& file) {
  auto names = [&](std::string_view global) {
    return std::any_of(scan.globals.begin(), scan.globals.end(),
                       [&](const ScannedGlobal& g) { return g.name == global; });
  };
  switch (file.format) {
  case CheckpointFormat::legacy:
    if (names("torch._utils._rebuild_tensor") && !names("torch._utils._rebuild_tensor_v2")) {
      return "torch before 0.4 (the legacy format with _rebuild_tensor, not _rebuild_tensor_v2)";
    }
    return "torch 0.4-1.5 (the legacy format), or a later one told "
           "_use_new_zipfile_serialization=False";
  case CheckpointFormat::torchscript_legacy:
    return "torch 1.0-1.2 (torch.jit.save's model.json layout)";
  case CheckpointFormat::torchscript:
    // torch.jit.save writes no .format_version (2.14's archives have none).
    return file.byteorder_record ? "torch 2.1 or later (a TorchScript archive with a byteorder "
                                   "record: 2.1, 2.6 and 2.14 write one)"
                                 : "torch 1.x up to 2.0 (a TorchScript archive with no byteorder "
                                   "record: 1.7, 1.13 and 2.0 write none)";
  case CheckpointFormat::torch_zip:
    if (file.format_version_record) {
      return "torch after 2.6 (a .format_version record: 2.14 writes one, 2.6 does not)";
    }
    if (file.byteorder_record) {
      return "torch 2.1 or later, before .format_version came (a byteorder record and no "
             ".format_version: 2.1, 2.5 and 2.6 write these; 2.14 adds .format_version)";
    }
    return "torch 1.6-2.0 (no byteorder record: 1.7, 1.13 and 2.0 write none, 2.1 writes one)";
  default:
    return "";
  }
}

// Fills `scan`, whose input is set, with what the file holds.
void examine(FileScan& scan) {
  if (!scan.input.skipped.empty()) {
    scan.status = FileStatus::skipped;
    scan.error = scan.input.skipped;
    return;
  }
  if (!scan.input.error.empty()) {
    scan.error = scan.input.error;
    return;
  }
  auto file = read_checkpoint_file(scan.input.file);
  if (!file) {
    std::error_code ec;
    uintmax_t size = std::filesystem::file_size(scan.input.file, ec);
    scan.bytes = ec ? 0 : size;
    // The reader names the host path; the report names the file already.
    std::string message = file.error().message;
    std::string prefix = scan.input.file.string() + ": ";
    // Member names in it come from the file: printable, like every name from untrusted bytes.
    scan.error =
        printable_name(message.starts_with(prefix) ? message.substr(prefix.size()) : message);
    return;
  }
  scan.bytes = file->size;
  scan.format = file->format;
  if (file->format == CheckpointFormat::not_a_checkpoint) {
    scan.status = FileStatus::not_a_checkpoint;
    return;
  }
  if (file->format == CheckpointFormat::numpy_npy ||
      file->format == CheckpointFormat::safetensors) {
    scan.status = FileStatus::other_format;
    return;
  }
  std::set<std::string> dangerous;
  for (size_t index = 0; index < file->pickles.size(); ++index) {
    const PickleMember& member = file->pickles[index];
    auto analysis = analyze_pickle(member.bytes);
    if (!analysis) {
      scan.status = FileStatus::error;
      scan.error = printable_name(fmt::format("{}: {}", member.name, analysis.error().message));
      return;
    }
    bool read = read_by_torch_load(*file, member);
    StreamPosition base = static_cast<StreamPosition>(index) << 40;
    if (read) {
      scan.members.push_back(printable_name(member.name));
      scan.protocol = std::max(scan.protocol, analysis->protocol);
      for (const auto& [opcode, offset] : analysis->opcodes_used) {
        // In key order: appended, not inserted, while the file has one pickle torch reads.
        scan.opcodes.emplace_hint(scan.opcodes.lower_bound(opcode), opcode, base + offset);
      }
      for (const auto& build : analysis->numpy_dtype_builds) {
        scan.numpy_dtype_builds.emplace_back(build.code, base + build.offset);
      }
      if (scan.foreign_persistent_id.empty() && !analysis->foreign_persistent_id.empty()) {
        scan.foreign_persistent_id = printable_name(analysis->foreign_persistent_id);
        scan.foreign_persistent_at = base + analysis->foreign_persistent_at;
      }
      for (auto& rebuild : analysis->sparse_rebuilds) {
        rebuild.offset += base;
        scan.sparse_rebuilds.push_back(std::move(rebuild));
      }
    }
    add_globals(scan, std::move(analysis->globals), read, base, dangerous);
  }
  scan.dangerous.assign(dangerous.begin(), dangerous.end());
  scan.written_by = written_by(scan, *file);
  scan.status = FileStatus::checkpoint;
}

} // namespace

FileScan scan_file(InputFile input) {
  FileScan scan;
  scan.input = std::move(input);
  // A fault of the analyser's own on one file is that file's error, never the scan's end.
  try {
    examine(scan);
  } catch (const std::exception& e) {
    InputFile kept = std::move(scan.input); // what was filled in before the fault goes
    scan = FileScan{};
    scan.input = std::move(kept);
    scan.status = FileStatus::error;
    scan.error = "internal error analysing this file: " + valid_utf8(e.what());
  }
  return scan;
}

} // namespace loadmatrix
