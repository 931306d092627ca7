// Which files a job that reads files (scan, audit) looks at: every path given, and every file
// under each directory given, each with an entry of its own. Nothing is silently passed over: a
// directory symlink that is not followed, a FIFO that is never opened, an unreadable directory and
// a symlink loop all get an entry saying so.
#pragma once

#include "util/utf8.h"

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

struct InputFile {
  std::filesystem::path file;     // what to open (host path)
  std::string display;            // the path as reports show it: valid UTF-8, \xNN escapes
  std::filesystem::path root;     // the PATH argument it was found under (a directory)
  std::filesystem::path relative; // its path below root
  std::string skipped;            // set: not opened, and why
  std::string error;              // set: could not be examined, and why
};

// Which names found under a directory a job reads (audit: "*.py"); a path given is always read.
using InputNameFilter = std::function<bool(std::string_view name)>;

// In argument order; each directory's entries sorted by name. A PATH that does not exist is
// an entry with an error, not an exception: the other paths are still read. Under directories,
// a non-directory entry whose name `wanted` refuses gets no entry at all.
std::vector<InputFile> collect_input_files(const std::vector<std::filesystem::path>& paths,
                                           const InputNameFilter& wanted = {});

} // namespace loadmatrix
