#include "analysis/fail_policy.h"

#include <fmt/core.h>

namespace loadmatrix {

const char* fail_on_id(FailOn policy) {
  switch (policy) {
  case FailOn::none:
    return "none";
  case FailOn::new_failures:
    return "new";
  case FailOn::regressions:
    return "regressions";
  case FailOn::any_failure:
    return "any";
  }
  return "";
}

std::optional<FailOn> parse_fail_on(std::string_view id) {
  if (id == "none") {
    return FailOn::none;
  }
  if (id == "new") {
    return FailOn::new_failures;
  }
  if (id == "regressions") {
    return FailOn::regressions;
  }
  if (id == "any") {
    return FailOn::any_failure;
  }
  return std::nullopt;
}

PolicyVerdict evaluate_policy(const ResultsModel& model, FailOn policy) {
  PolicyVerdict verdict;
  if (policy == FailOn::none) {
    return verdict;
  }
  if (model.diff && !model.diff->new_failures.empty()) {
    verdict.failed = true;
    verdict.reason = fmt::format("{} new failure(s) against the baseline {}",
                                 model.diff->new_failures.size(), model.diff->baseline_path);
    return verdict;
  }
  if (policy == FailOn::regressions || policy == FailOn::any_failure) {
    for (const auto& change : model.changes) {
      if (!change.regressions.empty()) {
        verdict.failed = true;
        verdict.reason = fmt::format("{} regression(s) from {} to {}", change.regressions.size(),
                                     change.from.torch, change.to.torch);
        return verdict;
      }
    }
  }
  if (policy == FailOn::any_failure) {
    for (const auto& record : model.records) {
      if (outcome_info(record.outcome).is_failure) {
        verdict.failed = true;
        verdict.reason = "failing cells (first: " + record.key() + ")";
        return verdict;
      }
    }
  }
  return verdict;
}

} // namespace loadmatrix
