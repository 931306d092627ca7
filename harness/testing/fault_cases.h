// Cases whose loads fault on purpose, for the fault-injection tests of every env kind
// (CliRunTest in chroots and on the host, ContainerEnvTest in images).
#pragma once

#include "util/json_file.h"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace loadmatrix::test_support {

// Writes DIR/src/faults, a package whose Fault(kind) calls trigger(kind) when unpickled, and
// for each of `kinds` DIR/cases/fN_KIND.py (saves one) and DIR/cases/fN_plain.py (plain weights,
// loaded after it). A fault fires only where the Python expression `armed` is true, so the
// producer that saves it can stay clean. Kinds: segfault, abort, hang (an hour), memory (64 GiB),
// silent_exit (no result), garbage (a malformed protocol line), limit (raises unless the
// load's RLIMIT_AS is 4 GiB, i.e. --cell-memory 4 took effect).
void write_fault_cases(const std::filesystem::path& dir, const std::string& armed,
                       const std::vector<std::string>& kinds);

// Every kind above, in one order, so each env kind is held to the same faults.
const std::vector<std::string>& all_fault_kinds();

// The classification every env kind must give `kinds` (as written above, run in "unsafe" mode
// with --cell-timeout and --cell-memory 4), as GoogleTest expectations on a results.json's
// `records` (test_support::records_by_key): in the cells of `armed` ("PRODUCER|CONSUMER"),
// segfault and abort are crashes with their signal, hang a timeout, memory a MemoryError,
// silent_exit a crash without a result, garbage an error naming the malformed reply, limit a
// pass; each plain case after a fault passes there, and every case passes in `unarmed`.
void expect_faults_classified(const std::map<std::string, Json>& records,
                              const std::vector<std::string>& kinds, const std::string& armed,
                              const std::string& unarmed);

} // namespace loadmatrix::test_support
