// The one way loadmatrix writes a file: --json, --out's contents, results.json, the reports,
// env manifests. It runs as root, so a destination is never replaced blindly: renaming a temp
// file over `--json /dev/null` once turned the machine's /dev/null into a regular file.
//
// How a destination is written, decided by what is there (lstat, then stat through links):
//   "-", or the file this process's stdout is   written to standard output
//   absent, or a regular file                   a temp file beside it, fsynced, renamed over
//                                               it: a reader sees the old file or the new one
//   a symlink                                   followed: its final target is written by these
//                                               same rules; the link itself stays
//   a character device or a FIFO                opened and written in place (no create, no
//                                               rename); a FIFO waits up to 30 s for a reader
//   a directory, block device or socket         refused
// Errors read "<path>: <reason>" and are values; a CLI resolves its destinations first, so a
// bad one is reported before any work is done.
#pragma once

#include "util/error.h"

#include <filesystem>
#include <string>
#include <string_view>

namespace loadmatrix {

struct OutputTarget {
  enum class Kind {
    standard_output,
    replace_atomically,
    in_place,
  };
  Kind kind = Kind::replace_atomically;
  std::filesystem::path path; // what is opened or replaced: a symlink's final target
  std::string given;          // as the user wrote it, for messages
};

// Decides how `path` would be written, without writing.
Expected<OutputTarget> resolve_output(const std::string& path);

// Writes all of `data` to the target. A partial write never replaces an existing file.
Expected<void> write_output(const OutputTarget& target, std::string_view data);

// resolve_output, then write_output.
Expected<void> write_output_file(const std::filesystem::path& path, std::string_view data);

// An output directory (--out): created with its parents when absent; an existing
// non-directory is refused. A symlink to a directory is followed.
Expected<void> prepare_output_dir(const std::filesystem::path& dir);

// A file written as a stream (records.jsonl, a worker's log), opened under the same rules
// except that nothing is renamed: absent or regular is created or opened (truncated unless
// kAppend), a device or FIFO is opened in place. Returns the descriptor (O_CLOEXEC).
enum class StreamStart { kTruncate, kAppend };
Expected<int> open_output_stream(const std::filesystem::path& path, StreamStart start);

// Writes all of `data` to `fd`, retrying short writes and EINTR; the error names `what`.
Expected<void> write_all(int fd, std::string_view data, const std::string& what);

} // namespace loadmatrix
