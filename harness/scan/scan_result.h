// A scan's result: per file, its static findings and, per env and mode, the predicted and the
// observed load, and the fix. Written as scan.json (schema loadmatrix.scan/1).
#pragma once

#include "records/classify.h"
#include "scan/file_scan.h"
#include "scan/load_prediction.h"
#include "util/json_file.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace loadmatrix {

inline constexpr const char* kScanSchema = "loadmatrix.scan/1";

// What a real load in the env did.
struct ObservedLoad {
  Outcome outcome = Outcome::error;
  BlockReason reason = BlockReason::none;
  std::vector<std::string> blocked_globals; // every global refused, found as the run finds them
  std::string error_type;
  std::string message;
  std::string detail;
  long long duration_ms = 0;
};

struct ScanFix {
  std::vector<std::string> allowlist; // empty with `verified` false: no safe allowlist
  bool verified = false;              // that exact allowlist made this version load the file
  std::string note;                   // why no allowlist, or what to do instead
};

struct ScanCell {
  std::string env;
  ScanMode mode = ScanMode::weights_only;
  std::optional<LoadPrediction> predicted; // absent when the static pass could not read it
  std::optional<ObservedLoad> observed;    // absent with --static-only
  std::optional<ScanFix> fix;              // when the load is (or is predicted) blocked

  // The observed load when one really ran (not one skipped for want of --trust), else null.
  const ObservedLoad* loaded() const;
  // Outcome and blocked globals both match; unknown while either side is missing or the
  // observed load was not run.
  std::optional<bool> agrees() const;
  Outcome verdict() const; // observed when there is one, else predicted
  // The globals to act on: what torch refused when it was asked, else what was predicted.
  const std::vector<std::string>& blocked_globals() const;
};

// A scanned file's one-word answer, in scan.json's "verdict" and the table's VERDICT column.
enum class FileVerdict {
  loads,            // every env's bare torch.load passes
  breaks,           // some env's bare torch.load fails
  not_predicted,    // no env here loaded or could predict it (scan_result's skipped cells)
  dangerous,        // it names a global that runs code or reaches the system
  error,            // it could not be read or parsed
  skipped,          // not opened (a FIFO, a directory symlink)
  not_a_checkpoint, // neither a pickle nor an archive torch writes
  other_format,     // numpy .npy or safetensors
};

const char* file_verdict_id(FileVerdict verdict);
// What a scan's exit status counts as a finding: breaks, dangerous or unreadable.
bool is_finding(FileVerdict verdict);

struct ScannedFile {
  FileScan scan;
  std::vector<ScanCell> cells;
  // A checkpoint, or a file whose reading failed after it was found to be one: predicted and
  // loaded like a checkpoint.
  bool loadable = false;
  // Global name -> where it is used in the saved object (pickle/object_paths.h), for files
  // with a blocked or dangerous global; "" is the returned object itself.
  std::map<std::string, std::string> object_paths;

  // Never `loads` for a file with a dangerous global.
  FileVerdict verdict() const;
};

struct ScanResult {
  Json envs = Json::array(); // env_summary of each env, in the order given
  std::vector<ScannedFile> files;
  bool verified = false; // loads were run
  bool trusted = false;  // --trust: full-unpickler loads were run, in the sandbox
  double static_seconds = 0;
  double resolve_seconds = 0; // asking the envs which globals they have
  double verify_seconds = 0;

  struct Agreement {
    size_t agree = 0;
    size_t disagree = 0;
  };
  Agreement agreement() const; // over every cell where both sides are known
  // scan.json's text, with `extra`'s fields added at the top level: what Json::dump(2) prints,
  // with each file written straight out by JsonWriter rather than built as a tree (a tree of
  // the whole document of a large scan took gigabytes and longer than the static pass:
  // bench/README.md).
  // Files are written on `jobs` threads (0: one per core).
  std::string to_json_text(const Json& extra, size_t jobs = 0) const;
};

} // namespace loadmatrix
