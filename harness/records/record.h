// One cell's result: a case saved by `producer`, loaded by `consumer` under `mode`.
#pragma once

#include "matrix/loader_mode.h"
#include "records/block_reason.h"
#include "records/outcome.h"
#include "records/portable_fix.h"
#include "util/error.h"
#include "util/json_file.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace loadmatrix {

// Where the user's code called into torch when a scenario failed: the innermost traceback frame
// outside torch, the standard library and the harness (worker.py's user_call_site). `file` is a
// host path where the driver knows the mount, else as the sandbox saw it.
struct CallSiteRef {
  std::string file;
  long long line = 0;
  std::string function;
  std::string code; // the line as written
  // When the line is an installed library's (site-packages), the distribution it belongs to
  // and its version, e.g. opacus 1.5.2: the user's fix is then an upgrade, or a call-site change
  // they cannot make themselves.
  std::string package;
  std::string package_version;

  // "opacus 1.5.2: " or "".
  std::string package_label() const {
    return package.empty() ? "" : package + " " + package_version + ": ";
  }
};

// A change to a failing scenario, proven by running it again with the change:
// "allowlist" (the blocked globals allowlisted with add_safe_globals before it runs) or
// "weights_only_false" (TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1: what an explicit
// weights_only=False at the call site does, where this torch reads the variable).
struct CodeFix {
  std::string kind;
  bool verified = false;              // the scenario passed with the change
  std::vector<std::string> allowlist; // kind "allowlist": what was allowlisted
  std::string detail;                 // what the retry ended with, when it did not pass
};

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
  std::optional<CallSiteRef> call_site; // scenarios that raised: the user's line
  std::vector<CodeFix> code_fixes;      // scenarios that were blocked: each change, re-run
  // Blocked loads of a file: where each blocked global is used in the saved object
  // (pickle/object_paths.h), e.g. {"argparse.Namespace": "[\"hyper_parameters\"]"}.
  std::map<std::string, std::string> object_paths;
  // Allowlist-mode records of a file some env blocked: the portable snippet run here
  // (records/portable_fix.h).
  std::optional<PortableCheck> portable;

  // Stable identity across runs: what --resume skips and a baseline diff keys on.
  std::string key() const;
  Json to_json() const;
  static Expected<Record> from_json(const Json& value, const std::string& origin);
};

} // namespace loadmatrix
