// Which files a scan looks at: every path given, and every file under each directory given,
// each with an entry of its own. Nothing is silently passed over: a directory symlink that is
// not followed, a FIFO that is never opened, an unreadable directory and a symlink loop all get
// an entry saying so.
#pragma once

#include "util/utf8.h"

#include <filesystem>
#include <string>
#include <vector>

namespace loadmatrix {

struct ScanInput {
  std::filesystem::path file;     // what to open (host path)
  std::string display;            // the path as reports show it: valid UTF-8, \xNN escapes
  std::filesystem::path root;     // the PATH argument it was found under (a directory)
  std::filesystem::path relative; // its path below root
  std::string skipped;            // set: not opened, and why
  std::string error;              // set: could not be examined, and why
};

// In argument order; each directory's entries sorted by name. A PATH that does not exist is
// an entry with an error, not an exception: the other paths are still scanned.
std::vector<ScanInput> collect_scan_inputs(const std::vector<std::filesystem::path>& paths);

} // namespace loadmatrix
