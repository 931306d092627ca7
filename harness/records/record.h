// One cell's result: a case saved by `producer`, loaded by `consumer` under `mode`.
#pragma once

#include "matrix/loader_mode.h"
#include "records/block_reason.h"
#include "records/outcome.h"
#include "util/error.h"
#include "util/json_file.h"

#include <string>
#include <vector>

namespace loadmatrix {

struct Record {
  std::string case_name;
  std::string producer;
  std::string consumer;
  LoaderMode mode = LoaderMode::default_load;
  Outcome outcome = Outcome::error;
  std::vector<std::string> blocked_globals; // every global the unpickler refused, in order
  BlockReason reason = BlockReason::none;   // why a blocked load was refused
  std::string error_type;                   // the exception's class
  std::string message;                      // ANSI codes removed, bounded
  long long duration_ms = 0;
  std::vector<std::string> allowlist; // allowlist mode: the globals that made it load
  std::string detail; // why skipped/unsupported/mismatch/crash, or what stopped a fix

  // Stable identity across runs: what --resume skips and a baseline diff keys on.
  std::string key() const;
  Json to_json() const;
  static Expected<Record> from_json(const Json& value, const std::string& origin);
};

} // namespace loadmatrix
