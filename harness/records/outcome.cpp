#include "records/outcome.h"

namespace loadmatrix {

const std::vector<OutcomeInfo>& outcomes() {
  static const std::vector<OutcomeInfo> table = {
      {Outcome::pass, "pass", "Loaded, and the content equals what the producer saved.", false},
      {Outcome::blocked, "blocked",
       "Refused by the weights-only unpickler; the record lists the globals and the reason.", true},
      {Outcome::error, "error", "Raised an exception other than a weights-only refusal.", true},
      {Outcome::crash, "crash", "The loading process died (a signal, or exit without a result).",
       true},
      {Outcome::timeout, "timeout", "The load did not finish within the cell timeout.", true},
      {Outcome::unsupported, "unsupported",
       "This torch version lacks the mode (e.g. mmap in 1.13).", false},
      {Outcome::mismatch, "mismatch",
       "Loaded, but values, dtypes, shapes or types differ from what was saved.", true},
      {Outcome::skipped, "skipped",
       "Not run: the mode does not apply to this file, or the producer could not save it.", false},
  };
  return table;
}

const OutcomeInfo& outcome_info(Outcome outcome) {
  return outcomes()[static_cast<size_t>(outcome)];
}

const char* outcome_id(Outcome outcome) {
  return outcome_info(outcome).id;
}

std::optional<Outcome> parse_outcome(std::string_view id) {
  for (const auto& info : outcomes()) {
    if (id == info.id) {
      return info.outcome;
    }
  }
  return std::nullopt;
}

} // namespace loadmatrix
