// The static pass over one file: its format and, for the pickles torch.load would read, every
// global with what uses it and every opcode, without loading or executing anything.
#pragma once

#include "pickle/checkpoint_file.h"
#include "pickle/pickle_analysis.h"
#include "util/input_files.h"

#include <boost/container/flat_map.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

enum class FileStatus {
  checkpoint,       // a torch checkpoint (or raw pickle) whose pickles were analysed
  error,            // could not be read or parsed: `error` says where and why
  not_a_checkpoint, // neither a pickle nor an archive torch writes
  other_format,     // numpy .npy or safetensors: read by their own loaders, not torch.load
  skipped,          // not opened (a FIFO, a directory symlink): `error` says why
};

const char* file_status_id(FileStatus status);

// A position in the file's pickle stream, comparable across its pickles: the member's index in
// the high bits, the byte offset in the low ones. The first refusal is the smallest.
using StreamPosition = uint64_t;

struct ScannedGlobal {
  std::string name;     // Python 3 spelling
  std::string raw_name; // as written
  std::string module;
  boost::container::flat_map<UseKind, StreamPosition> uses; // each use -> where first used
  StreamPosition first = 0;
  bool dangerous = false;
};

struct FileScan {
  InputFile input;
  FileStatus status = FileStatus::error;
  std::optional<CheckpointFormat> format; // none when the file could not be read
  std::string error;
  uintmax_t bytes = 0;
  int protocol = 0;                   // the highest protocol among the pickles
  std::vector<std::string> members;   // the pickles analysed ("archive/data.pkl", ...)
  std::vector<ScannedGlobal> globals; // what torch.load's unpickler would meet, in order
  boost::container::flat_map<uint8_t, StreamPosition> opcodes;
  std::vector<std::pair<std::string, StreamPosition>> numpy_dtype_builds; // type code, where
  std::vector<SparseRebuild> sparse_rebuilds; // offset: a StreamPosition
  std::vector<std::string> dangerous;         // every dangerous global, in any pickle of the file
  // Which torch wrote it, where its format tells ("" where it does not): the format, the records
  // a zip carries and, for the legacy format, which tensor rebuild it names. Measured on what
  // 1.1, 1.7, 1.13, 2.0, 2.1, 2.5, 2.6 and 2.14 write; "torch 0.4-1.5" is torch's own history (0.4
  // added _rebuild_tensor_v2, 1.6 made the zip format the default).
  std::string written_by;
  // A persistent id torch.load reads that is not a storage's (pickle_analysis.h): its kind
  // ("module") and where; empty when none.
  std::string foreign_persistent_id;
  StreamPosition foreign_persistent_at = 0;

  bool is_torchscript() const { return format == CheckpointFormat::torchscript; }
  // An archive each env is asked about whole (torch.jit.load's, and torch.load's for the
  // 1.0-1.2 layout), not a pickle the scan reads.
  bool is_archive() const {
    return format == CheckpointFormat::torchscript ||
           format == CheckpointFormat::torchscript_legacy;
  }
  // checkpoint_format_id, or "" when unknown.
  std::string_view format_id() const { return format ? checkpoint_format_id(*format) : ""; }
};

FileScan scan_file(InputFile input);

} // namespace loadmatrix
