#include "audit/audit_table.h"

#include "util/text_table.h"

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
  case CallOutcome::not_reached:
    return "-";
  }
  return "?";
}

Tone outcome_tone(CallOutcome outcome) {
  switch (outcome) {
  case CallOutcome::weights_only:
    return Tone::good;
  case CallOutcome::full:
    return Tone::warn;
  case CallOutcome::error:
    return Tone::bad;
  case CallOutcome::unknown:
  case CallOutcome::not_reached:
    return Tone::dim;
  }
  return Tone::plain;
}

// The hops from the call down to the loader, one line each, for a call through helpers.
std::string chain_lines(const AuditedCall& call) {
  std::string out;
  for (const auto& hop : call.site.chain) {
    out += fmt::format("  -> {} {}\n", hop.label(), hop.code);
  }
  if (call.site.loads > 1) {
    out += fmt::format("  ({} loads of this form through {})\n", call.site.loads, call.site.via);
  }
  return out;
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

std::string render_audit_table(const AuditResult& result, size_t width, const Palette& palette) {
  TextTable table;
  table.head = {"CALL SITE", "CALLEE", "WEIGHTS_ONLY"};
  table.key_columns = 2;
  for (const auto& env : result.envs) {
    table.head.push_back(env.spec.name);
  }
  table.head.push_back("FINDINGS");
  for (const auto& call : result.calls) {
    const CallSite& site = call.site;
    std::vector<TableCell> row = {
        {fmt::format("{}:{}:{}", result.files[site.file].label(), site.line, site.column)},
        {site.chain.empty() ? site.callee : site.callee + " via " + site.via},
        {written_weights_only_name(site.weights_only)}};
    for (const auto& effect : call.effects) {
      row.push_back({short_outcome(effect.effective), outcome_tone(effect.effective)});
    }
    std::string rules = rule_ids(call, ",");
    row.push_back({rules.empty() ? "-" : rules, rules.empty() ? Tone::good : Tone::bad});
    table.rows.push_back(std::move(row));
  }
  std::string out = render_table(table, width, palette);
  for (const auto& call : result.calls) {
    for (const auto& finding : call.findings) {
      out += fmt::format("\n{}:{}: {} {}\n  {}\n  fix: {}\n", result.files[call.site.file].label(),
                         call.site.line, palette.paint(finding.rule, Tone::bad), call.site.code,
                         finding.message, finding.suggestion);
      out += chain_lines(call);
      out += evidence(call);
    }
  }
  for (const auto& call : result.calls) {
    if (call.findings.empty() && !call.scenarios.empty()) {
      out += fmt::format("\n{}:{}: no finding, but a run failed here: {}\n{}",
                         result.files[call.site.file].label(), call.site.line, call.site.code,
                         evidence(call));
    }
  }
  size_t noted = 0;
  for (const auto& file : result.files) {
    for (const auto& note : file.notes) {
      out += fmt::format("{}{}: {}\n", noted++ == 0 ? "\nnot followed:\n" : "", file.label(), note);
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
