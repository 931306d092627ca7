#include "scan/scan_result.h"

#include "pickle/pickle_analysis.h"
#include "util/parallel.h"

#include <algorithm>
#include <set>

namespace loadmatrix {

const ObservedLoad* ScanCell::loaded() const {
  return observed && observed->outcome != Outcome::skipped ? &*observed : nullptr;
}

std::optional<bool> ScanCell::agrees() const {
  if (!predicted || !loaded()) {
    return std::nullopt;
  }
  if (predicted->outcome != observed->outcome) {
    return false;
  }
  if (predicted->outcome != Outcome::blocked) {
    return true;
  }
  std::set<std::string> expected(predicted->blocked_globals.begin(),
                                 predicted->blocked_globals.end());
  std::set<std::string> seen(observed->blocked_globals.begin(), observed->blocked_globals.end());
  return expected == seen && predicted->reason == observed->reason;
}

Outcome ScanCell::verdict() const {
  if (const ObservedLoad* load = loaded()) {
    return load->outcome;
  }
  return predicted ? predicted->outcome : Outcome::skipped;
}

const std::vector<std::string>& ScanCell::blocked_globals() const {
  static const std::vector<std::string> none;
  if (const ObservedLoad* load = loaded()) {
    return load->blocked_globals;
  }
  return predicted ? predicted->blocked_globals : none;
}

ScanResult::Agreement ScanResult::agreement() const {
  Agreement counts;
  for (const auto& file : files) {
    for (const auto& cell : file.cells) {
      if (auto agrees = cell.agrees()) {
        ++(*agrees ? counts.agree : counts.disagree);
      }
    }
  }
  return counts;
}

std::string ScannedFile::verdict() const {
  if (!scan.dangerous.empty()) {
    return "dangerous";
  }
  if (scan.status != FileStatus::checkpoint) {
    return file_status_id(scan.status);
  }
  for (const auto& cell : cells) {
    if (cell.mode == ScanMode::version_default && cell.verdict() != Outcome::pass) {
      return "breaks";
    }
  }
  return "loads";
}

namespace {

Json prediction_json(const LoadPrediction& p) {
  Json out = {{"outcome", outcome_id(p.outcome)},
              {"reason", block_reason_id(p.reason)},
              {"blocked_globals", p.blocked_globals},
              {"detail", p.detail},
              {"runs_code", p.runs_code}};
  return out;
}

Json observed_json(const ObservedLoad& o) {
  return {{"outcome", outcome_id(o.outcome)},
          {"reason", block_reason_id(o.reason)},
          {"blocked_globals", o.blocked_globals},
          {"error_type", o.error_type},
          {"message", o.message},
          {"detail", o.detail},
          {"duration_ms", o.duration_ms}};
}

Json cell_json(const ScanCell& cell) {
  Json out = {{"env", cell.env},
              {"mode", scan_mode_id(cell.mode)},
              {"predicted", cell.predicted ? Json(outcome_id(cell.predicted->outcome)) : Json()},
              {"observed", cell.observed ? Json(outcome_id(cell.observed->outcome)) : Json()},
              {"prediction", cell.predicted ? prediction_json(*cell.predicted) : Json()},
              {"observation", cell.observed ? observed_json(*cell.observed) : Json()}};
  out["blocked_globals"] = cell.blocked_globals();
  auto agrees = cell.agrees();
  out["agrees"] = agrees ? Json(*agrees) : Json();
  if (cell.fix) {
    out["fix"] = {{"allowlist", cell.fix->allowlist},
                  {"verified", cell.fix->verified},
                  {"note", cell.fix->note}};
  } else {
    out["fix"] = nullptr;
  }
  return out;
}

// `value_text` (a Json::dump(2)) as it prints nested `indent` spaces deep: JSON strings escape
// their newlines, so every raw newline is the printer's own.
void append_indented(std::string& out, const std::string& value_text, size_t indent) {
  size_t from = 0;
  for (size_t newline; (newline = value_text.find('\n', from)) != std::string::npos;
       from = newline + 1) {
    out.append(value_text, from, newline + 1 - from);
    out.append(indent, ' ');
  }
  out.append(value_text, from);
}

Json file_json(const ScannedFile& file) {
  const FileScan& scan = file.scan;
  Json globals = Json::array();
  for (const auto& global : scan.globals) {
    Json uses = Json::array();
    for (const auto& [use, at] : global.uses) {
      uses.push_back(use);
    }
    globals.push_back({{"name", global.name},
                       {"written", global.raw_name},
                       {"uses", std::move(uses)},
                       {"dangerous", global.dangerous}});
  }
  Json opcodes = Json::array();
  for (const auto& [opcode, at] : scan.opcodes) {
    opcodes.push_back(pickle_opcode_name(opcode));
  }
  Json cells = Json::array();
  for (const auto& cell : file.cells) {
    cells.push_back(cell_json(cell));
  }
  return {{"path", scan.input.display},
          {"format", scan.format.empty() ? Json() : Json(scan.format)},
          {"status", file_status_id(scan.status)},
          {"verdict", file.verdict()},
          {"error", scan.error.empty() ? Json() : Json(scan.error)},
          {"bytes", scan.bytes},
          {"protocol", scan.protocol},
          {"pickles", scan.members},
          {"opcodes", std::move(opcodes)},
          {"globals", std::move(globals)},
          {"dangerous", scan.dangerous},
          {"results", std::move(cells)}};
}

} // namespace

std::string ScanResult::to_json_text(const Json& extra, size_t jobs) const {
  Json header = {{"schema", kScanSchema},
                 {"envs", envs},
                 {"verified", verified},
                 {"trusted", trusted},
                 {"static_seconds", static_seconds},
                 {"verify_seconds", verify_seconds}};
  Agreement counts = agreement();
  header["agreement"] = {{"agree", counts.agree}, {"disagree", counts.disagree}};
  if (!extra.is_null()) { // {} is null, not an empty object
    header.update(extra);
  }
  header["files"] = nullptr; // holds its place in key order; its text is made file by file
  std::string text = "{";
  const char* separator = "\n  ";
  for (const auto& [key, value] : header.items()) {
    text += separator;
    separator = ",\n  ";
    text += Json(key).dump() + ": ";
    if (key != "files") {
      append_indented(text, value.dump(2), 2);
    } else if (files.empty()) {
      text += "[]";
    } else {
      // Files print independently, and printing is most of what writing scan.json costs.
      std::vector<std::string> file_texts(files.size());
      for_each_index(files.size(), jobs, [&](size_t i) {
        file_texts[i] = i == 0 ? "[\n    " : ",\n    ";
        append_indented(file_texts[i], file_json(files[i]).dump(2), 4);
      });
      size_t size = text.size();
      for (const auto& file_text : file_texts) {
        size += file_text.size();
      }
      text.reserve(size + 64);
      for (const auto& file_text : file_texts) {
        text += file_text;
      }
      text += "\n  ]";
    }
  }
  return text + "\n}\n";
}

} // namespace loadmatrix
