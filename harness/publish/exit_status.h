// How a loadmatrix command ends: one closed set, the process's exit status (doc/cli.md, "Exit
// codes"). Each job returns one; main returns its code. A CI job tells "the checkpoints break"
// (1) from "the tool could not tell" (2) and from "it was pointed at nothing" (3).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace loadmatrix {

enum class ExitStatus : uint8_t {
  ok,            // the job ran and found nothing its policy fails on
  failing,       // run, report, diff, merge: the --fail-on policy; scan, audit: a finding
  error,         // the job could not do all its work (a fatal error, a file not audited)
  nothing_found, // scan, audit: no file under the paths given
  usage,         // the command line is wrong
};

struct ExitStatusInfo {
  ExitStatus status;
  int code;
  const char* id;
};

inline constexpr std::array<ExitStatusInfo, 5> kExitStatuses = {{
    {ExitStatus::ok, 0, "ok"},
    {ExitStatus::failing, 1, "failing"},
    {ExitStatus::error, 2, "error"},
    {ExitStatus::nothing_found, 3, "nothing_found"},
    {ExitStatus::usage, 4, "usage"},
}};

// The table is indexed by the enum's value: each row must sit at its status's place.
static_assert([] {
  for (size_t i = 0; i < kExitStatuses.size(); ++i) {
    if (static_cast<size_t>(kExitStatuses[i].status) != i) {
      return false;
    }
  }
  return true;
}());

constexpr int exit_code(ExitStatus status) {
  return kExitStatuses[static_cast<std::size_t>(status)].code;
}

} // namespace loadmatrix
