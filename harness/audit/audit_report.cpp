#include "audit/audit_report.h"

#include "util/xml_text.h"

#include <fmt/core.h>

namespace loadmatrix {

namespace {

std::string h(std::string_view text) {
  return xml_escape(text);
}

// `code` spans of a Markdown line: backticks inside become a longer fence.
std::string md_code(const std::string& text) {
  return text.find('`') == std::string::npos ? "`" + text + "`" : "`` " + text + " ``";
}

std::string place(const AuditResult& result, const AuditedCall& call) {
  return fmt::format("{}:{}", result.files[call.site.file].label(), call.site.line);
}

// The loader, and the helper a call reaches it through.
std::string callee_text(const CallSite& site) {
  return site.chain.empty() ? site.callee : site.callee + " via " + site.via;
}

size_t finding_count(const AuditResult& result) {
  size_t count = 0;
  for (const auto& call : result.calls) {
    count += call.findings.size();
  }
  return count;
}

std::string headline(const AuditResult& result) {
  size_t parsed = 0;
  size_t failed = 0;
  for (const auto& file : result.files) {
    parsed += file.parsed ? 1 : 0;
    failed += file.ok ? 0 : 1;
  }
  std::string envs;
  for (const auto& env : result.envs) {
    envs += fmt::format("{}{} (torch {})", envs.empty() ? "" : ", ", env.spec.name,
                        env.fingerprint().torch);
  }
  return fmt::format("{} Python files ({} parsed, {} not audited), {} call sites, {} findings, "
                     "on {}{}",
                     result.files.size(), parsed, failed, result.calls.size(),
                     finding_count(result), envs,
                     result.variable.empty() ? "" : " under " + result.variable);
}

} // namespace

std::string render_audit_html(const AuditJobResult& job, const std::string& css) {
  const AuditResult& result = job.result;
  std::string out = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                    "<title>loadmatrix audit</title><style>\n" +
                    css + "</style></head>\n<body>\n";
  out += "<header><h1>loadmatrix audit</h1><p>" + h(headline(result)) + "</p></header>\n";
  out += "<section id=\"call-sites\"><h2>Call sites</h2><table><thead><tr><th>call site</th>"
         "<th>function</th><th>callee</th><th>weights_only</th>";
  for (const auto& env : result.envs) {
    out += "<th>" + h(env.spec.name) + "</th>";
  }
  out += "<th>findings</th></tr></thead><tbody>\n";
  for (const auto& call : result.calls) {
    out +=
        fmt::format("<tr><td><code>{}</code><br><code>{}</code></td><td>{}</td><td>{}</td>"
                    "<td>{}</td>",
                    h(place(result, call)), h(call.site.code), h(call.site.function),
                    h(callee_text(call.site)), written_weights_only_name(call.site.weights_only));
    for (const auto& effect : call.effects) {
      out += fmt::format("<td title=\"{}\">{}</td>", h(effect.reason),
                         call_outcome_name(effect.effective));
    }
    out += "<td>" + h(rule_ids(call, ", ")) + "</td></tr>\n";
  }
  out += "</tbody></table></section>\n<section id=\"findings\"><h2>Findings</h2>\n";
  for (const auto& call : result.calls) {
    for (const auto& finding : call.findings) {
      out += fmt::format("<div class=\"finding\"><h3><code>{}</code> {}</h3><p>{}</p>"
                         "<p><b>Change:</b> {}</p>",
                         h(place(result, call)), h(finding.rule), h(finding.message),
                         h(finding.suggestion));
      if (!call.site.chain.empty()) {
        out += "<ol class=\"chain\">";
        for (const auto& hop : call.site.chain) {
          out += "<li><code>" + h(hop.label()) + "</code> <code>" + h(hop.code) + "</code></li>";
        }
        out += "</ol>";
      }
      for (const auto& line : evidence_lines(call)) {
        out += "<p><b>Run:</b> " + h(line) + "</p>";
      }
      out += "</div>\n";
    }
  }
  for (const auto& call : result.calls) {
    if (call.findings.empty() && !call.scenarios.empty()) {
      out += fmt::format("<div class=\"finding\"><h3><code>{}</code> no finding, but a run "
                         "failed here</h3>",
                         h(place(result, call)));
      for (const auto& line : evidence_lines(call)) {
        out += "<p><b>Run:</b> " + h(line) + "</p>";
      }
      out += "</div>\n";
    }
  }
  out += "</section>\n";
  std::string failed;
  for (const auto& file : result.files) {
    if (!file.ok) {
      failed += "<li><code>" + h(file.input.display) + "</code>: " + h(file.error) + "</li>\n";
    }
  }
  if (!failed.empty()) {
    out += "<section id=\"not-audited\"><h2>Not audited</h2><ul>\n" + failed + "</ul></section>\n";
  }
  std::string notes;
  for (const auto& file : result.files) {
    for (const auto& note : file.notes) {
      notes += "<li><code>" + h(file.label()) + "</code>: " + h(note) + "</li>\n";
    }
  }
  if (!notes.empty()) {
    out += "<section id=\"not-followed\"><h2>Not followed</h2><ul>\n" + notes + "</ul></section>\n";
  }
  return out + "</body></html>\n";
}

std::string render_audit_markdown(const AuditJobResult& job) {
  const AuditResult& result = job.result;
  std::string out = "# loadmatrix audit\n\n" + headline(result) + ".\n\n## Call sites\n\n";
  out += "| call site | callee | weights_only |";
  std::string rule = "|---|---|---|";
  for (const auto& env : result.envs) {
    out += " " + env.spec.name + " |";
    rule += "---|";
  }
  out += " findings |\n" + rule + "---|\n";
  for (const auto& call : result.calls) {
    out += fmt::format("| {} | {} | {} |", md_code(place(result, call)), callee_text(call.site),
                       written_weights_only_name(call.site.weights_only));
    for (const auto& effect : call.effects) {
      out += fmt::format(" {} |", call_outcome_name(effect.effective));
    }
    out += " " + rule_ids(call, ", ") + " |\n";
  }
  out += "\n## Findings\n\n";
  for (const auto& call : result.calls) {
    for (const auto& finding : call.findings) {
      out +=
          fmt::format("- {} **{}** {}: {}\n  - change: {}\n", md_code(place(result, call)),
                      finding.rule, md_code(call.site.code), finding.message, finding.suggestion);
      for (const auto& line : evidence_lines(call)) {
        out += "  - run: " + line + "\n";
      }
    }
  }
  for (const auto& call : result.calls) {
    if (call.findings.empty() && !call.scenarios.empty()) {
      out += fmt::format("- {} no finding, but a run failed here\n", md_code(place(result, call)));
      for (const auto& line : evidence_lines(call)) {
        out += "  - run: " + line + "\n";
      }
    }
  }
  std::string failed;
  for (const auto& file : result.files) {
    if (!file.ok) {
      failed += fmt::format("- {}: {}\n", md_code(file.input.display), file.error);
    }
  }
  if (!failed.empty()) {
    out += "\n## Not audited\n\n" + failed;
  }
  return out;
}

} // namespace loadmatrix
