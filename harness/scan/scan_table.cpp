#include "scan/scan_table.h"

#include "util/text.h"

#include <algorithm>
#include <fmt/core.h>
#include <sstream>

namespace loadmatrix {

namespace {

std::string cell_text(const ScanCell& cell) {
  Outcome verdict = cell.verdict();
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

} // namespace

std::string render_scan_table(const ScanResult& result, const std::vector<Environment>& envs) {
  std::ostringstream out;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"FILE", "FORMAT", "VERDICT"};
  for (const auto& env : envs) {
    head.push_back(fmt::format("{} {}", env.spec.name, env.fingerprint().torch));
  }
  rows.push_back(head);
  size_t others = 0;
  for (const auto& file : result.files) {
    if (file.scan.status == FileStatus::not_a_checkpoint) {
      ++others; // listed in --json and scan.json; a table of READMEs helps no one
      continue;
    }
    std::vector<std::string> row = {file.scan.input.display,
                                    file.scan.format ? std::string(file.scan.format_id()) : "-",
                                    file_verdict_id(file.verdict())};
    for (const auto& env : envs) {
      std::string text = "-";
      for (const auto& cell : file.cells) {
        if (cell.env == env.spec.name && cell.mode == ScanMode::version_default) {
          text = cell_text(cell);
        }
      }
      row.push_back(text);
    }
    rows.push_back(row);
  }
  std::vector<size_t> widths(head.size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += fmt::format("{:<{}}  ", row[i], widths[i]);
    }
    out << line.substr(0, line.find_last_not_of(' ') + 1) << "\n";
  }
  if (others > 0) {
    out << fmt::format("{} other file(s) are not checkpoints (listed in the JSON)\n", others);
  }
  for (const auto& file : result.files) {
    if (!file.scan.error.empty()) {
      out << fmt::format("{}: {}: {}\n", file.scan.input.display, file_status_id(file.scan.status),
                         file.scan.error);
    }
    if (!file.scan.dangerous.empty()) {
      out << fmt::format("{}: DANGEROUS globals: {}\n", file.scan.input.display,
                         join(file.scan.dangerous, ", "));
    }
  }
  return out.str();
}

} // namespace loadmatrix
