#include "reports/html_report.h"

#include "reports/outcome_chart.h"
#include "util/json_file.h"
#include "util/text.h"
#include "util/xml_text.h"

#include <algorithm>
#include <fmt/core.h>
#include <set>

namespace loadmatrix {

namespace {

std::string h(std::string_view text) {
  return xml_escape(text);
}

const char* symbol(Outcome outcome) {
  switch (outcome) {
  case Outcome::pass:
    return "✓";
  case Outcome::blocked:
    return "B";
  case Outcome::error:
    return "E";
  case Outcome::crash:
    return "C";
  case Outcome::timeout:
    return "T";
  case Outcome::unsupported:
    return "–";
  case Outcome::mismatch:
    return "M";
  case Outcome::skipped:
    return "·";
  }
  return "?";
}

std::string env_label(const EnvInfo& env) {
  return fmt::format("{} (torch {})", env.name, env.torch);
}

std::string change_id(const VersionChange& change) {
  return "change-" + change.from.name + "-" + change.to.name;
}

std::string headline(const ResultsModel& model) {
  std::vector<std::string> versions;
  for (const auto& env : model.envs) {
    versions.push_back(env.torch);
  }
  std::vector<std::string> counts;
  auto totals = model.outcome_counts();
  for (const auto& info : outcomes()) {
    if (totals[info.outcome] > 0) {
      counts.push_back(
          fmt::format("<span class=\"o-{0}\">{1} {0}</span>", info.id, totals[info.outcome]));
    }
  }
  std::string out = fmt::format(
      "<header><h1>loadmatrix</h1>\n<p class=\"headline\" id=\"headline\" data-cells=\"{}\">{} "
      "cells · torch {} · {}</p>\n<ul class=\"changes-summary\">\n",
      model.records.size(), model.records.size(), h(join(versions, " → ")), join(counts, " · "));
  for (const auto& change : model.changes) {
    out += fmt::format("<li><a href=\"#{}\">{} → {}</a>: <strong>{} regressions</strong>, {} "
                       "fixes, {} still failing</li>\n",
                       change_id(change), h(env_label(change.from)), h(env_label(change.to)),
                       change.regressions.size(), change.fixes.size(), change.still_failing.size());
  }
  if (model.diff) {
    out += fmt::format("<li><a href=\"#baseline\">against the baseline</a>: <strong>{} new "
                       "failures</strong>, {} fixed</li>\n",
                       model.diff->new_failures.size(), model.diff->fixed.size());
  }
  return out + "</ul></header>\n";
}

std::string env_table(const ResultsModel& model) {
  std::string out = "<section id=\"envs\"><h2>Environments</h2>\n<table><thead><tr><th>env</th>"
                    "<th>kind</th><th>torch</th><th>Python</th><th>numpy</th>"
                    "<th>torch.load default</th></tr></thead><tbody>\n";
  for (const auto& env : model.envs) {
    // No weights_only_default is what a torch without the argument records (1.7); one that has
    // it but was not measured says so.
    std::string default_mode =
        env.weights_only_default
            ? (*env.weights_only_default ? "weights_only=True" : "weights_only=False")
        : env.has_weights_only.value_or(false) ? "not measured"
                                               : "no weights_only";
    out += fmt::format("<tr data-env=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}"
                       "</td><td>{}</td></tr>\n",
                       h(env.name), h(env.name), h(env.kind), h(env.torch), h(env.python),
                       h(env.numpy), default_mode);
  }
  return out + "</tbody></table></section>\n";
}

std::string cell_list(const std::vector<CellPair>& cells, size_t limit) {
  std::string out = "<ul class=\"cells\">";
  for (size_t i = 0; i < cells.size() && i < limit; ++i) {
    const CellPair& cell = cells[i];
    out += fmt::format("<li><code>{}</code> saved by {}, mode <code>{}</code>: {} → {}</li>",
                       h(cell.case_name), h(cell.producer), h(cell.mode),
                       cell.before ? outcome_id(cell.before->outcome) : "none",
                       outcome_id(cell.after->outcome));
  }
  if (cells.size() > limit) {
    out += fmt::format("<li class=\"muted\">… and {} more</li>", cells.size() - limit);
  }
  return out + "</ul>";
}

// One snippet for every version the run has, first: what a project supporting several torch
// versions pastes. Verified where it loaded every file of the group; elsewhere, why not.
std::string portable_block(const PortableFix& fix) {
  if (fix.globals.empty() && fix.why_not.empty()) {
    return ""; // nothing was blocked: no allowlist is a fix
  }
  std::string out = fmt::format("<div class=\"portable\" data-everywhere=\"{}\">",
                                fix.everywhere() ? "true" : "false");
  if (fix.snippet.empty()) {
    return out + "<p>No single snippet: " + h(fix.why_not) + "</p></div>\n";
  }
  if (fix.everywhere()) {
    out += "<p><strong>One fix for every version here</strong>, verified by loading each file "
           "with it on " +
           h(join(fix.verified_envs, ", ")) + ":</p>";
  } else {
    out += "<p><strong>One snippet for every version</strong>: it loaded each file on " +
           h(fix.verified_envs.empty() ? std::string("no env") : join(fix.verified_envs, ", ")) +
           "; not on:</p><ul>";
    for (const auto& [env, why] : fix.failures) {
      out += "<li>" + h(env) + ": " + h(why) + "</li>";
    }
    for (const auto& env : fix.unchecked_envs) {
      out += "<li>" + h(env) + ": not checked in this run</li>";
    }
    out += "</ul>";
  }
  if (fix.merged_lists) {
    out += "<p>Each file was checked with the globals refused in it; the list below unites them "
           "(allowlisting more never makes a weights-only load refuse more).</p>";
  }
  return out + "<pre><code>" + h(fix.snippet) +
         "</code></pre><button class=\"copy\" hidden>Copy</button></div>\n";
}

// Where each blocked global sits in the saved objects: the change on the saving side (store
// vars(args) instead of args, a float instead of a numpy scalar) that needs no allowlist.
std::string where_list(const CauseGroup& group) {
  if (group.object_paths.empty()) {
    return "";
  }
  std::string out = "<div class=\"where\"><p>Where in the saved object (save a plain value "
                    "there and no allowlist is needed):</p><ul>";
  for (const auto& [global, paths] : group.object_paths) {
    out += "<li><code>" + h(global) + "</code> at ";
    size_t shown = 0;
    for (const auto& path : paths) {
      if (shown++ == 5) {
        out += fmt::format(" and {} more", paths.size() - 5);
        break;
      }
      out += (shown > 1 ? ", " : "") + (path.empty()
                                            ? std::string("the saved object itself")
                                            : "<code class=\"object-path\">" + h(path) + "</code>");
    }
    out += "</li>";
  }
  return out + "</ul></div>\n";
}

std::string change_section(const VersionChange& change) {
  std::string out = fmt::format(
      "<section class=\"change\" id=\"{}\" data-from=\"{}\" data-to=\"{}\" "
      "data-regressions=\"{}\" data-fixes=\"{}\" data-still-failing=\"{}\">\n"
      "<h2>{} → {}</h2>\n<p><strong>{} regressions</strong> (passed on {}, fail on {}), {} fixes, "
      "{} still failing, {} unchanged.</p>\n",
      change_id(change), h(change.from.name), h(change.to.name), change.regressions.size(),
      change.fixes.size(), change.still_failing.size(), h(env_label(change.from)),
      h(env_label(change.to)), change.regressions.size(), h(change.from.torch), h(change.to.torch),
      change.fixes.size(), change.still_failing.size(), change.unchanged);
  if (auto differs = what_differs(change.from, change.to); !differs.empty()) {
    out += "<p class=\"differs\">What differs: " + h(join(differs, ", ")) + ".</p>\n";
  }
  if (!change.regressions_by_mode_and_producer.empty()) {
    std::set<std::string> producers;
    for (const auto& [mode, by_producer] : change.regressions_by_mode_and_producer) {
      for (const auto& [producer, count] : by_producer) {
        producers.insert(producer);
      }
    }
    out += "<table class=\"by-mode\"><thead><tr><th>regressions: mode \\ saved by</th>";
    for (const auto& producer : producers) {
      out += "<th>" + h(producer) + "</th>";
    }
    out += "</tr></thead><tbody>";
    for (const auto& [mode, by_producer] : change.regressions_by_mode_and_producer) {
      out += "<tr><td><code>" + h(mode) + "</code></td>";
      for (const auto& producer : producers) {
        auto it = by_producer.find(producer);
        out += fmt::format("<td>{}</td>", it == by_producer.end() ? 0 : it->second);
      }
      out += "</tr>";
    }
    out += "</tbody></table>\n";
  }
  for (const auto& group : change.causes) {
    out += fmt::format(
        "<details class=\"cause\" data-cause=\"{}\" data-checkpoints=\"{}\" data-cells=\"{}\">"
        "<summary><code>{}</code> {} {} checkpoint{} on {} ({} cells, {})</summary>\n",
        h(group.cause), group.checkpoints, group.cells.size(), h(group.cause), group.verb(),
        group.checkpoints, group.checkpoints == 1 ? "" : "s", h(change.to.torch),
        group.cells.size(), h(group.reason));
    out += portable_block(group.portable);
    out += "<p>The message, as torch printed it:</p><pre class=\"message\">" + h(group.message) +
           "</pre>\n";
    const char* kind = group.fix.kind == SuggestedFix::Kind::allowlist ? "allowlist"
                       : group.fix.kind == SuggestedFix::Kind::weights_only_false
                           ? "weights_only_false"
                           : "none";
    out += fmt::format("<div class=\"fix\" data-kind=\"{}\" data-verified=\"{}\"><p>{}</p>", kind,
                       group.fix.verified ? "true" : "false", h(group.fix.note));
    if (!group.fix.snippet.empty()) {
      out += "<pre><code>" + h(group.fix.snippet) +
             "</code></pre><button class=\"copy\" hidden>Copy</button>";
    }
    out += "</div>\n" + where_list(group) + cell_list(group.cells, 200) + "</details>\n";
  }
  if (!change.fixes.empty()) {
    out += fmt::format("<details class=\"fixes\"><summary>{} cells fixed on {}</summary>{}"
                       "</details>\n",
                       change.fixes.size(), h(change.to.torch), cell_list(change.fixes, 500));
  }
  return out + "</section>\n";
}

std::string baseline_section(const BaselineDiff& diff) {
  std::string out = fmt::format(
      "<section id=\"baseline\" data-new-failures=\"{}\" data-fixed=\"{}\"><h2>Against the "
      "baseline</h2>\n<p>Baseline: <code>{}</code>. <strong>{} new failures</strong>, {} fixed, "
      "{} persisting, {} changed messages, {} cells missing from this run.</p>\n<ul>",
      diff.new_failures.size(), diff.fixed.size(), h(diff.baseline_path), diff.new_failures.size(),
      diff.fixed.size(), diff.persisting.size(), diff.changed_messages.size(), diff.missing.size());
  for (const Record* record : diff.new_failures) {
    out += fmt::format("<li>new failure: <code>{}</code> {} → {} <code>{}</code>: {}</li>",
                       h(record->case_name), h(record->producer), h(record->consumer),
                       h(loader_mode_id(record->mode)), outcome_id(record->outcome));
  }
  for (const auto& [record, old_message] : diff.changed_messages) {
    out += fmt::format("<li>message changed: <code>{}</code> {} → {} <code>{}</code>: was "
                       "<code>{}</code></li>",
                       h(record->case_name), h(record->producer), h(record->consumer),
                       h(loader_mode_id(record->mode)), h(old_message.substr(0, 300)));
  }
  return out + "</ul></section>\n";
}

// A scan's own findings: files with dangerous globals, and every cell where the static
// prediction and the observed load disagree (listed, never hidden).
std::string scan_section(const Json& scan) {
  const Json& disagreements = scan.at("disagreements");
  std::string out =
      fmt::format("<section id=\"prediction\" data-agree=\"{}\" data-disagree=\"{}\"><h2>Static "
                  "prediction</h2>\n",
                  scan.value("agree", 0), disagreements.size());
  if (!scan.value("verified", false)) {
    out += "<p>Nothing was loaded (--static-only, or no env runs here and each was predicted from "
           "its measured facts): the cells show the prediction.</p>\n";
  } else {
    out += fmt::format("<p>The C++ analyzer's prediction agrees with the observed load in "
                       "<strong>{}</strong> cells and disagrees in <strong>{}</strong>.</p>\n",
                       scan.value("agree", 0), disagreements.size());
  }
  for (const auto& file : scan.value("dangerous", Json::array())) {
    out += fmt::format("<p class=\"dangerous\"><strong>dangerous</strong>: <code>{}</code> "
                       "names <code>{}</code>: never allowlist these; load it only if you "
                       "trust its source.</p>\n",
                       h(file.value("file", "")),
                       h(join(file.value("globals", std::vector<std::string>{}), ", ")));
  }
  if (!disagreements.empty()) {
    out += "<table id=\"disagreements\"><thead><tr><th>file</th><th>env</th><th>mode</th>"
           "<th>predicted</th><th>observed</th></tr></thead><tbody>\n";
    for (const auto& d : disagreements) {
      auto globals = [&](const char* key) {
        auto list = d.value(key, std::vector<std::string>{});
        return list.empty() ? std::string() : " <code>" + h(join(list, ", ")) + "</code>";
      };
      out += fmt::format("<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td>"
                         "<td>{}{}<br><span class=\"muted\">{}</span></td><td>{}{}<br>"
                         "<span class=\"muted\">{}</span></td></tr>\n",
                         h(d.value("file", "")), h(d.value("env", "")), h(d.value("mode", "")),
                         h(d.value("predicted", "")), globals("predicted_globals"),
                         h(d.value("predicted_detail", "")), h(d.value("observed", "")),
                         globals("observed_globals"),
                         h(d.value("observed_detail", "").substr(0, 300)));
    }
    out += "</tbody></table>\n";
  }
  return out + "</section>\n";
}

std::string filters(const ResultsModel& model) {
  auto options = [](const std::vector<std::string>& values) {
    std::string out = "<option value=\"\">all</option>";
    for (const auto& value : values) {
      out += fmt::format("<option value=\"{0}\">{0}</option>", h(value));
    }
    return out;
  };
  std::vector<std::string> outcome_ids;
  for (const auto& info : outcomes()) {
    outcome_ids.push_back(info.id);
  }
  std::vector<std::string> env_names;
  for (const auto& env : model.envs) {
    env_names.push_back(env.name);
  }
  return fmt::format(
      "<section id=\"filters\"><h2>Cells</h2>\n<form id=\"filter-form\" hidden>"
      "<label>outcome <select name=\"outcome\">{}</select></label>"
      "<label>mode <select name=\"mode\">{}</select></label>"
      "<label>saved by <select name=\"producer\">{}</select></label>"
      "<label>loaded by <select name=\"consumer\">{}</select></label>"
      "<label>text <input name=\"q\" type=\"search\" placeholder=\"case, global, message\">"
      "</label></form>\n<p id=\"filter-status\" class=\"muted\">{} cells</p></section>\n",
      options(outcome_ids), options(model.modes), options(env_names), options(env_names),
      model.records.size());
}

// A table's height before the browser has laid it out (report.css lays the large ones out only
// near the screen), so the scrollbar is about right from the start; once laid out, the browser
// keeps the real height. A grid row is one line; a cell row as many as its message wraps to.
constexpr size_t kGridRowPixels = 27;
constexpr size_t kLinePixels = 18;
constexpr size_t kMessageLineChars = 60;
std::string estimated_height(size_t pixels) {
  return fmt::format("contain-intrinsic-size: auto {}px", pixels + 80);
}
size_t cell_row_pixels(std::string_view message) {
  size_t lines = 0;
  for (size_t start = 0; start <= message.size();) {
    size_t end = std::min(message.find('\n', start), message.size());
    lines += std::max<size_t>(1, (end - start + kMessageLineChars - 1) / kMessageLineChars);
    start = end + 1;
  }
  return lines * kLinePixels + 9;
}

std::string grids(const ResultsModel& model) {
  std::string out = "<section id=\"grids\"><h2>Grids: case × saved by → loaded by</h2>\n"
                    "<p class=\"muted\">✓ pass, B blocked, E error, C crash, T timeout, M "
                    "mismatch, – unsupported, · skipped.</p>\n";
  for (const auto& mode : model.modes) {
    std::optional<LoaderMode> mode_id = parse_record_mode(mode);
    out += fmt::format("<section class=\"grid-section\" style=\"{}\"><h3><code>{}</code></h3>",
                       estimated_height((model.cases.size() + 1) * kGridRowPixels), h(mode));
    out += "<table class=\"grid\" data-mode=\"" + h(mode) +
           "\"><thead><tr><th class=\"case\">case"
           "</th>";
    bool scenario = mode_id == LoaderMode::scenario;
    for (const auto& producer : model.envs) {
      for (const auto& consumer : model.envs) {
        if (scenario ? producer.name != consumer.name
                     : !model.loads(producer.name, consumer.name)) {
          continue;
        }
        out += scenario ? "<th>" + h(consumer.name) + "</th>"
                        : "<th>" + h(producer.name) + "→" + h(consumer.name) + "</th>";
      }
    }
    out += "</tr></thead><tbody>\n";
    for (const auto& case_name : model.cases) {
      std::string row;
      bool any = false;
      for (const auto& producer : model.envs) {
        for (const auto& consumer : model.envs) {
          if (scenario ? producer.name != consumer.name
                       : !model.loads(producer.name, consumer.name)) {
            continue;
          }
          const Record* record =
              mode_id ? model.find(case_name, producer.name, consumer.name, *mode_id) : nullptr;
          if (record == nullptr) {
            row += "<td></td>";
            continue;
          }
          any = true;
          row += fmt::format(
              "<td class=\"o-{}\" title=\"{}\">{}</td>", outcome_id(record->outcome),
              h(std::string(outcome_id(record->outcome)) +
                (record->blocked_globals.empty() ? ""
                                                 : ": " + join(record->blocked_globals, ", "))),
              symbol(record->outcome));
        }
      }
      if (any) {
        out += "<tr><td class=\"case\">" + h(case_name) + "</td>" + row + "</tr>\n";
      }
    }
    out += "</tbody></table></section>\n";
  }
  return out + "</section>\n";
}

// A fix proven by re-running the scenario, as the code a user writes at the call site.
std::string code_fix_html(const CodeFix& fix) {
  std::string change =
      fix.kind == "allowlist"
          ? "<code>" + h(allowlist_snippet(fix.allowlist)) + "</code> before the call"
          : "<code>weights_only=False</code> at the call (trusted input only)";
  return fix.verified ? change + " <b>verified</b>"
                      : change + " <i>did not help</i>: " + h(fix.detail.substr(0, 200));
}

// Scenarios that failed, at the user's line that called torch, with the changes proven there.
std::string call_site_section(const ResultsModel& model) {
  std::string rows;
  for (const auto& record : model.records) {
    if (!record.call_site) {
      continue;
    }
    const CallSiteRef& site = *record.call_site;
    std::string fixes;
    for (const auto& fix : record.code_fixes) {
      fixes += "<div>" + code_fix_html(fix) + "</div>";
    }
    rows += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"o-{}\">{}</td><td>{}<code>{}:{}"
                        "</code> in <code>{}</code><br><code>{}</code></td><td>{}</td></tr>\n",
                        h(record.case_name), h(record.consumer), outcome_id(record.outcome),
                        outcome_id(record.outcome),
                        site.package.empty() ? "" : "<b>" + h(site.package_label()) + "</b>",
                        h(site.file), site.line, h(site.function), h(site.code),
                        fixes.empty() ? "-" : fixes);
  }
  if (rows.empty()) {
    return "";
  }
  return "<section id=\"call-sites\"><h2>Scenario call sites</h2><p>Each failing scenario at "
         "the line of its own code that called torch, and each change re-run there: verified "
         "means the scenario then passed.</p><table><thead><tr><th>scenario</th><th>env</th>"
         "<th>outcome</th><th>call site</th><th>code fixes</th></tr></thead><tbody>\n" +
         rows + "</tbody></table></section>\n";
}

std::string cell_table(const ResultsModel& model) {
  std::string rows;
  rows.reserve(model.records.size() * 400);
  size_t pixels = 0;
  for (const auto& record : model.records) {
    std::string globals = join(record.blocked_globals, ", ");
    if (!record.allowlist.empty()) {
      globals += (globals.empty() ? "" : "; ") + std::string("allowlisted: ") +
                 join(record.allowlist, ", ");
    }
    std::string text = record.message.empty() ? record.detail : record.message;
    if (text.size() > 400) {
      text = text.substr(0, 400) + "…";
    }
    std::string search = record.case_name + " " + globals + " " + text;
    std::transform(search.begin(), search.end(), search.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    pixels += cell_row_pixels(text);
    rows += fmt::format(
        "<tr class=\"cell\" data-case=\"{}\" data-producer=\"{}\" data-consumer=\"{}\" "
        "data-mode=\"{}\" data-outcome=\"{}\" data-text=\"{}\"><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td class=\"o-{}\">{}</td><td>{}</td><td class=\"message\"><code>{}</code>"
        "</td></tr>\n",
        h(record.case_name), h(record.producer), h(record.consumer), h(loader_mode_id(record.mode)),
        outcome_id(record.outcome), h(search), h(record.case_name), h(record.producer),
        h(record.consumer), h(loader_mode_id(record.mode)), outcome_id(record.outcome),
        outcome_id(record.outcome), h(globals), h(text));
  }
  return "<section id=\"all-cells\" style=\"" + estimated_height(pixels) +
         "\"><table id=\"cell-table\"><thead><tr><th>case</th><th>saved by</th><th>loaded "
         "by</th><th>mode</th><th>outcome</th><th>blocked globals / allowlist</th><th>message or "
         "detail</th></tr></thead><tbody>\n" +
         rows + "</tbody></table></section>\n";
}

} // namespace

std::string render_html_report(const ResultsModel& model, const std::filesystem::path& assets) {
  std::string css = read_text_file(assets / "report.css").value_or_throw();
  std::string js = read_text_file(assets / "report.js").value_or_throw();
  std::string out = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                    "<title>loadmatrix report</title><style>\n" +
                    css + "</style></head>\n<body>\n";
  out += headline(model);
  out += outcome_chart(model);
  out += env_table(model);
  if (model.header.contains("scan")) {
    out += scan_section(model.header.at("scan"));
  }
  out += "<section id=\"changes\">\n";
  for (const auto& change : model.changes) {
    out += change_section(change);
  }
  out += "</section>\n";
  out += call_site_section(model);
  if (model.diff) {
    out += baseline_section(*model.diff);
  }
  out += grids(model);
  out += filters(model);
  out += cell_table(model);
  out += "<script>\n" + js + "</script>\n</body></html>\n";
  return out;
}

} // namespace loadmatrix
