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
