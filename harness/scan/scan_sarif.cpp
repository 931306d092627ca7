#include "scan/scan_sarif.h"

#include "pickle/object_paths.h"
#include "util/text.h"
#include "util/utf8.h"

#include <fmt/core.h>
#include <map>

namespace loadmatrix {

const std::vector<SarifRule>& scan_sarif_rules() {
  static const std::vector<SarifRule> rules = {
      {"LMS001", "dangerous-global",
       "The checkpoint names a global that can run code or reach the system: a full-unpickler "
       "load (weights_only=False, or torch.load before 2.6) runs it, and no allowlist may name "
       "it.",
       "error"},
      {"LMS002", "blocked-by-weights-only",
       "torch.load(weights_only=True), the default from torch 2.6, refuses the checkpoint on "
       "some torch version of the matrix.",
       "warning"},
      {"LMS003", "load-fails",
       "Loading the checkpoint raises or kills the process on some torch version of the matrix "
       "(a global that version lacks, a tensor format or TorchScript it cannot read).",
       "warning"},
      {"LMS004", "unreadable-checkpoint",
       "The file could not be read or parsed as a checkpoint, so nothing about its loads is "
       "known.",
       "error"},
  };
  return rules;
}

namespace {

// "trixie (weights_only), sid (default)"
std::string env_list(const std::vector<const ScanCell*>& cells) {
  std::vector<std::string> names;
  for (const ScanCell* cell : cells) {
    names.push_back(fmt::format("{} ({})", cell->env, scan_mode_id(cell->mode)));
  }
  return join(names, ", ");
}

std::string where(const ScannedFile& file, const std::string& global) {
  const std::string* path = object_path_for(file.object_paths, global);
  if (!path) {
    return "";
  }
  return path->empty() ? " (the saved object itself)" : " (at " + *path + ")";
}

Json file_location(const ScannedFile& file, const std::filesystem::path& base) {
  return Json::array(
      {Json{{"physicalLocation",
             {{"artifactLocation", sarif_artifact_location(file.scan.input.file, base)}}}}});
}

// The blocked cells' message: which envs refuse which globals, and the fix the scan found.
std::string blocked_message(const ScannedFile& file, const std::vector<const ScanCell*>& cells) {
  std::vector<std::string> globals;
  for (const ScanCell* cell : cells) {
    append_unique(globals, cell->blocked_globals());
  }
  std::vector<std::string> placed;
  for (const auto& global : globals) {
    placed.push_back(global + where(file, global));
  }
  std::string message = fmt::format("torch.load(weights_only=True) refuses it on {}: {}.",
                                    env_list(cells), join(placed, ", "));
  for (const ScanCell* cell : cells) {
    if (cell->fix && !cell->fix->allowlist.empty()) {
      message += fmt::format(" Fix: allowlist {} (torch.serialization.add_safe_globals){}.",
                             join(cell->fix->allowlist, ", "),
                             cell->fix->verified ? ", verified by loading it on " + cell->env
                                                 : ", predicted");
      return message;
    }
  }
  if (!cells.empty() && cells.front()->fix) {
    message += " " + cells.front()->fix->note + ".";
  }
  return message;
}

// Why a cell raised or died, in one line.
std::string failure_of(const ScanCell& cell) {
  if (const ObservedLoad* load = cell.loaded()) {
    if (!load->error_type.empty()) {
      return load->error_type + ": " + first_line(load->message, 200);
    }
    return load->detail.empty() ? outcome_id(load->outcome) : load->detail;
  }
  return cell.predicted ? "predicted: " + first_line(cell.predicted->detail, 200) : "";
}

} // namespace

Json scan_sarif(const ScanResult& result, const std::filesystem::path& base,
                const std::string& information_uri) {
  const auto& rules = scan_sarif_rules();
  Json results = Json::array();
  Json notifications = Json::array();
  for (const auto& file : result.files) {
    const FileScan& scan = file.scan;
    std::string display = valid_utf8(scan.input.display);
    if (scan.status == FileStatus::error) {
      results.push_back(sarif_result(rules, "LMS004", display + ": " + valid_utf8(scan.error),
                                     file_location(file, base)));
      continue;
    }
    if (scan.status == FileStatus::skipped) {
      notifications.push_back({{"level", "warning"},
                               {"message", {{"text", display + ": " + valid_utf8(scan.error)}}},
                               {"locations", file_location(file, base)}});
      continue;
    }
    for (const auto& global : scan.dangerous) {
      results.push_back(sarif_result(
          rules, "LMS001",
          fmt::format("{} names {}{}, which can run code or reach the system: never allowlist "
                      "it, and load the file with weights_only=False only if you trust it.",
                      display, global, where(file, global)),
          file_location(file, base), {{"global", global}}));
    }
    std::vector<const ScanCell*> blocked;
    std::vector<const ScanCell*> failed;
    Json per_env = Json::object();
    for (const auto& cell : file.cells) {
      Outcome outcome = cell.verdict();
      per_env[fmt::format("{} ({})", cell.env, scan_mode_id(cell.mode))] = outcome_id(outcome);
      if (outcome == Outcome::blocked) {
        blocked.push_back(&cell);
      } else if (outcome == Outcome::error || outcome == Outcome::crash ||
                 outcome == Outcome::timeout) {
        failed.push_back(&cell);
      }
    }
    if (!blocked.empty()) {
      results.push_back(sarif_result(rules, "LMS002",
                                     display + ": " + blocked_message(file, blocked),
                                     file_location(file, base), {{"loads", per_env}}));
    }
    if (!failed.empty()) {
      results.push_back(sarif_result(rules, "LMS003",
                                     fmt::format("{}: loading it fails on {}: {}", display,
                                                 env_list(failed), failure_of(*failed.front())),
                                     file_location(file, base), {{"loads", per_env}}));
    }
  }
  return sarif_log(rules, information_uri, std::move(results), std::move(notifications), base);
}

} // namespace loadmatrix
