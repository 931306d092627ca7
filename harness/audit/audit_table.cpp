#include "audit/audit_table.h"

#include <fmt/core.h>

namespace loadmatrix {

namespace {

const char* short_outcome(CallOutcome outcome) {
  switch (outcome) {
  case CallOutcome::weights_only:
    return "weights-only";
  case CallOutcome::full:
    return "FULL";
  case CallOutcome::error:
    return "ERROR";
  case CallOutcome::unknown:
    return "?";
  }
  return "?";
}

// A linked run's scenarios at this call site and the fixes it proved there.
std::string evidence(const AuditedCall& call) {
  std::string out;
  for (const auto& line : evidence_lines(call)) {
    out += "  run: " + line + "\n";
  }
  return out;
}

} // namespace

std::string render_audit_table(const AuditResult& result) {
  std::string out = fmt::format("{:<44} {:<36} {:<12}", "CALL SITE", "CALLEE", "WEIGHTS_ONLY");
  for (const auto& env : result.envs) {
    out += fmt::format(" {:<14}", env.spec.name);
  }
  out += " FINDINGS\n";
  for (const auto& call : result.calls) {
    const CallSite& site = call.site;
    std::string where =
        fmt::format("{}:{}:{}", result.files[site.file].input.display, site.line, site.column);
    out += fmt::format("{:<44} {:<36} {:<12}", where, site.callee,
                       written_weights_only_name(site.weights_only));
    for (const auto& effect : call.effects) {
      out += fmt::format(" {:<14}", short_outcome(effect.effective));
    }
    out += " " + rule_ids(call, ",") + "\n";
  }
  for (const auto& call : result.calls) {
    for (const auto& finding : call.findings) {
      out += fmt::format("\n{}:{}: {} {}\n  {}\n  fix: {}\n",
                         result.files[call.site.file].input.display, call.site.line, finding.rule,
                         call.site.code, finding.message, finding.suggestion);
      out += evidence(call);
    }
  }
  for (const auto& call : result.calls) {
    if (call.findings.empty() && !call.scenarios.empty()) {
      out += fmt::format("\n{}:{}: no finding, but a run failed here: {}\n{}",
                         result.files[call.site.file].input.display, call.site.line, call.site.code,
                         evidence(call));
    }
  }
  size_t errors = 0;
  for (const auto& file : result.files) {
    if (!file.ok) {
      out += fmt::format("{}{}: {}\n", errors++ == 0 ? "\nnot audited:\n" : "", file.input.display,
                         file.error);
    }
  }
  return out;
}

} // namespace loadmatrix
