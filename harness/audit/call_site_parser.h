// Runs runtime/audit_calls.py (Python's `ast`) over a maintainer's files in an env's
// sandbox: network-less, as nobody, each directory mounted read-only, nothing imported or run.
// One file's fault is that file's: the parser writes each file's answer as it finishes it, a
// file that stops a run (a parse that never returns, a crash) is retried alone and then given
// its own error, and every other file keeps its answer.
#pragma once

#include "envs/environment.h"
#include "util/input_files.h"
#include "util/json_file.h"
#include "util/process.h"

#include <vector>

namespace loadmatrix {

// One answer per file, in order: audit_calls.py's {"status", "error", "parsed", "calls"}, or
// {"status": "error", "error": why, "parsed": false} where it gave none. `jobs`: parser
// processes, 0 for one per core.
std::vector<Json> parse_call_sites(const Environment& env,
                                   const std::vector<const InputFile*>& files, size_t jobs,
                                   ProcessRunner& runner);

} // namespace loadmatrix
