#include "scan/scan_table.h"

#include "pickle/object_paths.h"
#include "records/portable_fix.h"
#include "util/text.h"
#include "util/text_table.h"

#include <algorithm>
#include <fmt/core.h>
#include <sstream>

namespace loadmatrix {

namespace {

std::string cell_text(const ScanCell& cell) {
  Outcome verdict = cell.verdict();
  if (verdict == Outcome::skipped && cell.predicted && !cell.loaded()) {
    return "not predicted"; // scan.json's detail says why
  }
  std::string text = outcome_id(verdict);
  const auto& globals = cell.blocked_globals();
  if (verdict == Outcome::blocked && !globals.empty()) {
    text += fmt::format(" ({})", globals.size());
  }
  if (cell.fix && cell.fix->verified) {
    text += " fix✓";
  }
  if (cell.agrees() == false) {
    text += " [predicted " + std::string(outcome_id(cell.predicted->outcome)) + "]";
  } else if (!cell.loaded()) {
    text += cell.predicted ? "?" : "";
  }
  return text;
}

Tone outcome_tone(Outcome outcome) {
  switch (outcome) {
  case Outcome::pass:
    return Tone::good;
  case Outcome::blocked:
  case Outcome::mismatch:
    return Tone::warn;
  case Outcome::error:
  case Outcome::crash:
  case Outcome::timeout:
    return Tone::bad;
  case Outcome::unsupported:
  case Outcome::skipped:
    return Tone::dim;
  }
  return Tone::plain;
}

Tone verdict_tone(FileVerdict verdict) {
  switch (verdict) {
  case FileVerdict::loads:
    return Tone::good;
  case FileVerdict::breaks:
    return Tone::warn;
  case FileVerdict::dangerous:
  case FileVerdict::error:
    return Tone::bad;
  default:
    return Tone::dim;
  }
}

// Under the table, for a file some env's bare torch.load refuses: which globals, where each sits
// in the saved object, the allowlist that lifts the refusal (or why none is safe), and on which
// envs, grouped where those agree; envs known only by their facts are said to be.
std::string blocked_lines(const ScannedFile& file, const std::vector<Environment>& envs) {
  struct Group {
    std::vector<std::string> envs;
    bool facts_only = false;
  };
  std::vector<std::pair<std::string, Group>> groups;
  for (const auto& env : envs) {
    for (const auto& cell : file.cells) {
      if (cell.env != env.spec.name || cell.mode != ScanMode::version_default ||
          cell.verdict() != Outcome::blocked || cell.blocked_globals().empty()) {
        continue;
      }
      std::vector<std::string> globals;
      for (const auto& global : cell.blocked_globals()) {
        const std::string* where = object_path_for(file.object_paths, global);
        globals.push_back(where == nullptr || where->empty()
                              ? global
                              : fmt::format("{} (at {})", global, *where));
      }
      std::string what = join(globals, ", ");
      if (cell.fix && !cell.fix->allowlist.empty()) {
        what += "; allowlist: " + allowlist_call(cell.fix->allowlist, env.fingerprint().numpy);
      } else if (cell.fix) {
        what += "; " + cell.fix->note;
      }
      // Envs known only by their facts are grouped apart: their answer is a prediction.
      auto group = std::find_if(groups.begin(), groups.end(), [&](const auto& entry) {
        return entry.first == what && entry.second.facts_only == !env.runs_here();
      });
      if (group == groups.end()) {
        groups.emplace_back(what, Group{{}, !env.runs_here()});
        group = std::prev(groups.end());
      }
      group->second.envs.push_back(env.spec.name);
    }
  }
  std::string text;
  for (const auto& [what, group] : groups) {
    text += fmt::format(
        "{}: blocked on {}{}: {}\n", file.scan.input.display, join(group.envs, ", "),
        group.facts_only ? " (predicted from measured facts; not loaded here)" : "", what);
  }
  return text;
}

} // namespace

std::string allowlist_call(const std::vector<std::string>& globals,
                           const std::optional<std::string>& numpy) {
  std::vector<std::string> entries;
  for (const auto& global : globals) {
    auto home = numpy ? numpy2_home(global, *numpy) : std::nullopt;
    entries.push_back(home ? fmt::format("({}, \"{}\")", *home, global) : global);
  }
  return fmt::format("torch.serialization.add_safe_globals([{}])", join(entries, ", "));
}

std::string render_scan_table(const ScanResult& result, const std::vector<Environment>& envs,
                              size_t width, const Palette& palette) {
  std::ostringstream out;
  TextTable table;
  table.head = {"FILE", "FORMAT", "VERDICT"};
  table.key_columns = 3;
  for (const auto& env : envs) {
    table.head.push_back(fmt::format("{} {}", env.spec.name, env.fingerprint().torch));
  }
  size_t others = 0;
  for (const auto& file : result.files) {
    if (file.scan.status == FileStatus::not_a_checkpoint) {
      ++others; // listed in --json and scan.json; a table of READMEs helps no one
      continue;
    }
    std::vector<TableCell> row = {{file.scan.input.display},
                                  {file.scan.format ? std::string(file.scan.format_id()) : "-"},
                                  {file_verdict_id(file.verdict()), verdict_tone(file.verdict())}};
    for (const auto& env : envs) {
      TableCell text{"-"};
      for (const auto& cell : file.cells) {
        if (cell.env == env.spec.name && cell.mode == ScanMode::version_default) {
          text = {cell_text(cell), outcome_tone(cell.verdict())};
        }
      }
      row.push_back(text);
    }
    table.rows.push_back(std::move(row));
  }
  out << render_table(table, width, palette);
  if (others > 0) {
    out << fmt::format("{} other file(s) are not checkpoints (listed in the JSON)\n", others);
  }
  for (const auto& file : result.files) {
    out << blocked_lines(file, envs);
    if (!file.scan.error.empty()) {
      out << fmt::format("{}: {}: {}\n", file.scan.input.display, file_status_id(file.scan.status),
                         file.scan.error);
    }
    if (!file.scan.dangerous.empty()) {
      out << fmt::format("{}: {}: {}\n", file.scan.input.display,
                         palette.paint("DANGEROUS globals", Tone::bad),
                         join(file.scan.dangerous, ", "));
    }
  }
  return out.str();
}

} // namespace loadmatrix
