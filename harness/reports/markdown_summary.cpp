#include "reports/markdown_summary.h"

#include "util/text.h"
#include "util/utf8.h"

#include <fmt/core.h>

namespace loadmatrix {

namespace {

std::string inline_code(const std::string& text) {
  std::string cleaned;
  for (char c : text) {
    cleaned += c == '`' ? '\'' : c == '\n' ? ' ' : c;
  }
  return "`" + cleaned + "`";
}
// "; where: `argparse.Namespace` at `["args"]`": the place to change what is saved.
std::string where_text(const CauseGroup& group) {
  std::vector<std::string> places;
  for (const auto& [global, paths] : group.object_paths) {
    std::vector<std::string> shown;
    for (const auto& path : paths) {
      if (shown.size() == 3) {
        shown.push_back("…");
        break;
      }
      shown.push_back(path.empty() ? "the saved object itself" : inline_code(path));
    }
    places.push_back(inline_code(global) + " at " + join(shown, ", "));
    if (places.size() == 5) {
      break;
    }
  }
  return places.empty() ? "" : "; where: " + join(places, "; ");
}

// "  - one snippet for every version: verified on ..." under a cause (report.html has the code).
std::string portable_line(const PortableFix& fix) {
  if (fix.globals.empty() && fix.why_not.empty()) {
    return ""; // nothing was blocked: no allowlist is a fix
  }
  if (fix.snippet.empty()) {
    return "  - one snippet for every version: none (" + fix.why_not + ")\n";
  }
  if (fix.everywhere()) {
    return "  - one snippet for every version (report.html): verified on " +
           join(fix.verified_envs, ", ") + "\n";
  }
  std::vector<std::string> not_on;
  for (const auto& [env, why] : fix.failures) {
    not_on.push_back(env + ": " + why.substr(0, 160));
  }
  for (const auto& env : fix.unchecked_envs) {
    not_on.push_back(env + ": not checked");
  }
  return "  - one snippet for every version (report.html): loads on " +
         (fix.verified_envs.empty() ? std::string("no env") : join(fix.verified_envs, ", ")) +
         "; not on " + join(not_on, "; ") + "\n";
}

std::string env_label(const EnvInfo& env) {
  return fmt::format("{} (torch {}, Python {})", env.name, env.torch, env.python);
}

} // namespace

namespace {

// A scan's dangerous files and its prediction-vs-observed disagreements, every one listed.
// Failing scenarios at the user's line that called torch, with the changes proven there.
std::string call_site_summary(const ResultsModel& model) {
  std::string out;
  for (const auto& record : model.records) {
    if (!record.call_site) {
      continue;
    }
    const CallSiteRef& site = *record.call_site;
    out += fmt::format("- {} on {}: {} at {}`{}:{}` in `{}`: {}\n", record.case_name,
                       record.consumer, outcome_id(record.outcome), site.package_label(), site.file,
                       site.line, site.function, inline_code(site.code));
    for (const auto& fix : record.code_fixes) {
      std::string change =
          fix.kind == "allowlist"
              ? "allowlist " + inline_code(join(fix.allowlist, ", "))
              : std::string("`weights_only=False` at the call (trusted input only)");
      out += fmt::format("  - {}: {}\n", fix.verified ? "verified" : "did not help", change);
    }
  }
  return out.empty() ? "" : "## Scenario call sites\n\n" + out + "\n";
}

std::string scan_summary(const Json& scan) {
  const Json& disagreements = scan.at("disagreements");
  std::string out = "## Static prediction\n\n";
  out += scan.value("verified", false)
             ? fmt::format("Prediction and observed load agree in {} cells, disagree in {}.\n\n",
                           scan.value("agree", 0), disagreements.size())
             : "Nothing was loaded (--static-only, or no env runs here and each was predicted from "
               "its "
               "measured facts): the cells are predictions.\n\n";
  for (const auto& file : scan.value("dangerous", Json::array())) {
    out += fmt::format("- **dangerous**: {} names `{}`: never allowlist these\n",
                       file.value("file", ""),
                       join(file.value("globals", std::vector<std::string>{}), "`, `"));
  }
  for (const auto& d : disagreements) {
    out += fmt::format("- disagreement: {} on {} `{}`: predicted {} ({}), observed {} ({})\n",
                       d.value("file", ""), d.value("env", ""), d.value("mode", ""),
                       d.value("predicted", ""), d.value("predicted_detail", ""),
                       d.value("observed", ""), d.value("observed_detail", "").substr(0, 200));
  }
  return out + "\n";
}

} // namespace

std::string render_markdown_summary(const ResultsModel& model) {
  std::string out = "# loadmatrix\n\n";
  std::vector<std::string> versions;
  for (const auto& env : model.envs) {
    versions.push_back(env.name + " " + env.torch);
  }
  auto counts = model.outcome_counts();
  std::vector<std::string> parts;
  for (const auto& info : outcomes()) {
    if (counts[info.outcome] > 0) {
      parts.push_back(fmt::format("{} {}", counts[info.outcome], info.id));
    }
  }
  out += fmt::format("{} cells over {}: {}.\n\n", model.records.size(), join(versions, " → "),
                     join(parts, ", "));

  for (const auto& change : model.changes) {
    out += fmt::format("## {} → {}\n\n", env_label(change.from), env_label(change.to));
    out += fmt::format("**{} regressions**, {} fixes, {} still failing, {} unchanged.\n\n",
                       change.regressions.size(), change.fixes.size(), change.still_failing.size(),
                       change.unchanged);
    if (auto differs = what_differs(change.from, change.to); !differs.empty()) {
      out += "What differs: " + join(differs, ", ") + ".\n\n";
    }
    size_t shown = 0;
    for (const auto& group : change.causes) {
      if (++shown > 25) {
        out += fmt::format("- … and {} more causes (see report.html)\n", change.causes.size() - 25);
        break;
      }
      std::string verb = group.verb();
      std::string fix;
      switch (group.fix.kind) {
      case SuggestedFix::Kind::allowlist:
        fix = std::string(group.fix.verified ? "fix (verified): " : "suggested (unverified): ") +
              "allowlist " + inline_code(join(group.fix.globals, ", "));
        break;
      case SuggestedFix::Kind::weights_only_false:
        fix = "no safe allowlist; `weights_only=False` loads them (trusted files only)";
        break;
      case SuggestedFix::Kind::none:
        fix = "no loader-side fix found";
        break;
      }
      out += fmt::format("- {} {} {} checkpoint{} on {} ({} cell{}) — {}{}\n",
                         inline_code(group.cause.substr(0, 200)), verb, group.checkpoints,
                         group.checkpoints == 1 ? "" : "s", change.to.torch, group.cells.size(),
                         group.cells.size() == 1 ? "" : "s", fix, where_text(group));
      out += portable_line(group.portable);
    }
    out += "\n";
  }

  out += call_site_summary(model);
  if (model.header.contains("scan")) {
    out += scan_summary(model.header.at("scan"));
  }
  if (model.diff) {
    const BaselineDiff& diff = *model.diff;
    out += fmt::format("## Against the baseline\n\n{} new failures, {} fixed, {} persisting, {} "
                       "changed messages, {} cells missing.\n\n",
                       diff.new_failures.size(), diff.fixed.size(), diff.persisting.size(),
                       diff.changed_messages.size(), diff.missing.size());
    size_t shown = 0;
    for (const Record* record : diff.new_failures) {
      if (++shown > 50) {
        out += fmt::format("- … and {} more\n", diff.new_failures.size() - 50);
        break;
      }
      out +=
          fmt::format("- new failure: {} {} → {} `{}`: {}\n", record->case_name, record->producer,
                      record->consumer, loader_mode_id(record->mode), outcome_id(record->outcome));
    }
    out += "\n";
  }
  if (out.size() > kSummaryLimit) {
    out = truncate_utf8(out, kSummaryLimit - 100) + "\n\n… (cut at 1 MB; see report.html)\n";
  }
  return out;
}

} // namespace loadmatrix
