// When a run, report or diff exits 1. Documented in doc/cli.md ("Exit codes").
#pragma once

#include "analysis/results_model.h"

#include <optional>
#include <string>
#include <string_view>

namespace loadmatrix {

enum class FailOn {
  none,         // never: the outputs are the product
  new_failures, // a cell fails that did not fail in the baseline (default; the nightly job)
  regressions,  // also: any version change has a regression
  any_failure,  // any failing cell at all
};

std::optional<FailOn> parse_fail_on(std::string_view id);
const char* fail_on_id(FailOn policy);
inline constexpr const char* kFailOnIds = "none, new, regressions, any";

struct PolicyVerdict {
  bool failed = false;
  std::string reason; // one line, for stderr
};

PolicyVerdict evaluate_policy(const ResultsModel& model, FailOn policy);

} // namespace loadmatrix
