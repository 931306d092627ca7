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

#include <filesystem>
#include <vector>

namespace loadmatrix {

// One answer per file, in order: audit_calls.py's {"status", "error", "parsed", "notes",
// "calls"}, or {"status": "error", "error": why, "parsed": false} where it gave none, each path
// it names (a chain's hops, a helper's retry) the host's. `jobs`: parser processes, 0 for one
// per core. `followed`: site-packages directories whose packages the calls are followed into
// (each mounted read-only; torch's own package is never followed).
std::vector<Json> parse_call_sites(const Environment& env,
                                   const std::vector<const InputFile*>& files, size_t jobs,
                                   ProcessRunner& runner,
                                   const std::vector<std::filesystem::path>& followed = {});

} // namespace loadmatrix
