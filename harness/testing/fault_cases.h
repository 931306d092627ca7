// Cases whose loads fault on purpose, for the fault-injection tests of every env kind
// (CliRunTest in chroots and on the host, ContainerEnvTest in images).
#pragma once

#include <filesystem>
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

} // namespace loadmatrix::test_support
