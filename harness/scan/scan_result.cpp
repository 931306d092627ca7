#include "scan/scan_result.h"

#include "pickle/pickle_analysis.h"

#include <algorithm>
#include <set>

namespace loadmatrix {

std::optional<bool> ScanCell::agrees() const {
  if (!predicted || !observed || observed->outcome == Outcome::skipped) {
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
  if (observed && observed->outcome != Outcome::skipped) {
    return observed->outcome;
  }
  return predicted ? predicted->outcome : Outcome::skipped;
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
  // The globals to act on: what torch refused when it was asked, else what was predicted.
  const std::vector<std::string>* blocked = nullptr;
  if (cell.observed && cell.observed->outcome != Outcome::skipped) {
    blocked = &cell.observed->blocked_globals;
  } else if (cell.predicted) {
    blocked = &cell.predicted->blocked_globals;
  }
  out["blocked_globals"] = blocked ? Json(*blocked) : Json::array();
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

} // namespace

Json ScanResult::to_json() const {
  Json out = {{"schema", kScanSchema},
              {"envs", envs},
              {"verified", verified},
              {"trusted", trusted},
              {"static_seconds", static_seconds},
              {"verify_seconds", verify_seconds}};
  Json list = Json::array();
  size_t agree = 0;
  size_t disagree = 0;
  for (const auto& file : files) {
    const FileScan& scan = file.scan;
    Json globals = Json::array();
    for (const auto& global : scan.globals) {
      Json uses = Json::array();
      for (const auto& [use, at] : global.uses) {
        uses.push_back(use);
      }
      globals.push_back({{"name", global.name},
                         {"written", global.raw_name},
                         {"uses", uses},
                         {"dangerous", global.dangerous}});
    }
    Json opcodes = Json::array();
    for (const auto& [opcode, at] : scan.opcodes) {
      opcodes.push_back(pickle_opcode_name(opcode));
    }
    Json cells = Json::array();
    for (const auto& cell : file.cells) {
      cells.push_back(cell_json(cell));
      if (auto agrees = cell.agrees()) {
        ++(*agrees ? agree : disagree);
      }
    }
    list.push_back({{"path", scan.input.display},
                    {"format", scan.format.empty() ? Json() : Json(scan.format)},
                    {"status", file_status_id(scan.status)},
                    {"verdict", file.verdict()},
                    {"error", scan.error.empty() ? Json() : Json(scan.error)},
                    {"bytes", scan.bytes},
                    {"protocol", scan.protocol},
                    {"pickles", scan.members},
                    {"opcodes", opcodes},
                    {"globals", globals},
                    {"dangerous", scan.dangerous},
                    {"results", cells}});
  }
  out["files"] = std::move(list);
  out["agreement"] = {{"agree", agree}, {"disagree", disagree}};
  return out;
}

} // namespace loadmatrix
