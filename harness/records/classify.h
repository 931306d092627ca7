// From what a probe reported to an outcome: one pure function, tested without processes.
// Probe facts are the worker's (or the normalised C++ probe's) reply:
//   {"status": "returned", "description": ...}      the load returned
//   {"status": "raised", "error_type", "message"}    it raised
//   {"status": "crashed", "signal" | "exit_code"}    the process died
//   {"status": "timeout"} | {"status": "unsupported", "reason"} | {"status": "protocol_error"}
#pragma once

#include "records/block_reason.h"
#include "records/outcome.h"
#include "util/json_file.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

// What a weights-only refusal message says, in any torch version's wording.
struct Refusal {
  bool weights_only = false; // false: not a refusal by the weights-only unpickler
  BlockReason reason = BlockReason::none;
  std::vector<std::string> globals; // as written in the pickle (module.qualname)
};

Refusal parse_refusal(std::string_view error_type, std::string_view message);
std::string strip_ansi(std::string_view text);

// Globals that run code or reach the system: never suggested for an allowlist.
bool is_dangerous_global(std::string_view name);

struct Classification {
  Outcome outcome = Outcome::error;
  Refusal refusal;
  std::string error_type;
  std::string message;
  std::string detail;
};

// `expected` is the producer's description of what it saved; when given and the load returned
// something else, the outcome is mismatch.
Classification classify(const Json& facts, const Json* expected);

// A short path to the first difference between two descriptions ("items[2][1].tensor.sum").
std::string first_difference(const Json& expected, const Json& actual);

} // namespace loadmatrix
