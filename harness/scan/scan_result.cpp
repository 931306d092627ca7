#include "scan/scan_result.h"

#include "pickle/pickle_analysis.h"
#include "util/json_writer.h"
#include "util/parallel.h"

#include <algorithm>
#include <set>

namespace loadmatrix {

const ObservedLoad* ScanCell::loaded() const {
  return observed && observed->outcome != Outcome::skipped ? &*observed : nullptr;
}

std::optional<bool> ScanCell::agrees() const {
  if (!predicted || !loaded() || predicted->outcome == Outcome::skipped) {
    return std::nullopt; // a skipped prediction is none ("not predicted: ...")
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

const char* file_verdict_id(FileVerdict verdict) {
  switch (verdict) {
  case FileVerdict::loads:
    return "loads";
  case FileVerdict::breaks:
    return "breaks";
  case FileVerdict::not_predicted:
    return "not_predicted";
  case FileVerdict::dangerous:
    return "dangerous";
  case FileVerdict::error:
    return "error";
  case FileVerdict::skipped:
    return "skipped";
  case FileVerdict::not_a_checkpoint:
    return "not_a_checkpoint";
  case FileVerdict::other_format:
    return "other_format";
  }
  return "";
}

bool is_finding(FileVerdict verdict) {
  return verdict == FileVerdict::breaks || verdict == FileVerdict::dangerous ||
         verdict == FileVerdict::error;
}

FileVerdict ScannedFile::verdict() const {
  if (!scan.dangerous.empty()) {
    return FileVerdict::dangerous;
  }
  switch (scan.status) {
  case FileStatus::checkpoint:
    break;
  case FileStatus::error:
    return FileVerdict::error;
  case FileStatus::not_a_checkpoint:
    return FileVerdict::not_a_checkpoint;
  case FileStatus::other_format:
    return FileVerdict::other_format;
  case FileStatus::skipped:
    return FileVerdict::skipped;
  }
  // A cell not predicted ("skipped", nothing observed) is not a finding, nor a pass.
  bool answered = false;
  for (const auto& cell : cells) {
    if (cell.mode != ScanMode::version_default || cell.verdict() == Outcome::skipped) {
      continue;
    }
    if (cell.verdict() != Outcome::pass) {
      return FileVerdict::breaks;
    }
    answered = true;
  }
  return answered || cells.empty() ? FileVerdict::loads : FileVerdict::not_predicted;
}

namespace {

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

// Each object's keys in sorted order, as dump prints them (see JsonWriter).
void write_outcome_or_null(JsonWriter& out, const auto& load) {
  if (load) {
    out.value(outcome_id(load->outcome));
  } else {
    out.null();
  }
}

void write_prediction(JsonWriter& out, const LoadPrediction& p) {
  out.begin_object();
  out.field("blocked_globals", p.blocked_globals);
  out.field("detail", p.detail);
  out.key("missing_global");
  if (p.missing_global.empty()) {
    out.null();
  } else {
    out.value(p.missing_global);
  }
  out.field("outcome", outcome_id(p.outcome));
  out.field("reason", block_reason_id(p.reason));
  out.field("runs_code", p.runs_code);
  out.end_object();
}

void write_observation(JsonWriter& out, const ObservedLoad& o) {
  out.begin_object();
  out.field("blocked_globals", o.blocked_globals);
  out.field("detail", o.detail);
  out.field("duration_ms", static_cast<int64_t>(o.duration_ms));
  out.field("error_type", o.error_type);
  out.field("message", o.message);
  out.field("outcome", outcome_id(o.outcome));
  out.field("reason", block_reason_id(o.reason));
  out.end_object();
}

void write_cell(JsonWriter& out, const ScanCell& cell) {
  out.begin_object();
  out.key("agrees");
  if (auto agrees = cell.agrees()) {
    out.value(*agrees);
  } else {
    out.null();
  }
  out.field("blocked_globals", cell.blocked_globals());
  out.field("env", cell.env);
  out.key("fix");
  if (cell.fix) {
    out.begin_object();
    out.field("allowlist", cell.fix->allowlist);
    out.field("note", cell.fix->note);
    out.field("verified", cell.fix->verified);
    out.end_object();
  } else {
    out.null();
  }
  out.field("mode", scan_mode_id(cell.mode));
  out.key("observation");
  if (cell.observed) {
    write_observation(out, *cell.observed);
  } else {
    out.null();
  }
  out.key("observed");
  write_outcome_or_null(out, cell.observed);
  out.key("predicted");
  write_outcome_or_null(out, cell.predicted);
  out.key("prediction");
  if (cell.predicted) {
    write_prediction(out, *cell.predicted);
  } else {
    out.null();
  }
  out.end_object();
}

void write_text_or_null(JsonWriter& out, std::string_view text) {
  if (text.empty()) {
    out.null();
  } else {
    out.value(text);
  }
}

void write_file(JsonWriter& out, const ScannedFile& file) {
  const FileScan& scan = file.scan;
  out.begin_object();
  out.field("bytes", static_cast<uint64_t>(scan.bytes));
  out.field("dangerous", scan.dangerous);
  out.key("error");
  write_text_or_null(out, scan.error);
  out.key("format");
  write_text_or_null(out, scan.format_id());
  out.key("globals");
  out.begin_array();
  for (const auto& global : scan.globals) {
    out.begin_object();
    out.field("dangerous", global.dangerous);
    out.field("name", global.name);
    // Where it is used in the saved object, for files with a blocked or dangerous global.
    out.key("object_path");
    auto path = file.object_paths.find(global.name);
    if (path == file.object_paths.end()) {
      out.null();
    } else {
      out.value(path->second);
    }
    out.key("uses");
    out.begin_array();
    for (const auto& [use, at] : global.uses) {
      out.value(use_kind_name(use));
    }
    out.end_array();
    out.field("written", global.raw_name);
    out.end_object();
  }
  out.end_array();
  out.key("opcodes");
  out.begin_array();
  for (const auto& [opcode, at] : scan.opcodes) {
    out.value(pickle_opcode_name(opcode));
  }
  out.end_array();
  out.field("path", scan.input.display);
  out.field("pickles", scan.members);
  out.field("protocol", scan.protocol);
  out.key("results");
  out.begin_array();
  for (const auto& cell : file.cells) {
    write_cell(out, cell);
  }
  out.end_array();
  out.field("status", file_status_id(scan.status));
  out.field("verdict", file_verdict_id(file.verdict()));
  out.key("written_by");
  if (scan.written_by.empty()) {
    out.null();
  } else {
    out.value(scan.written_by);
  }
  out.end_object();
}

} // namespace

std::string ScanResult::to_json_text(const Json& extra, size_t jobs) const {
  Json header = {{"schema", kScanSchema},
                 {"envs", envs},
                 {"verified", verified},
                 {"trusted", trusted},
                 {"static_seconds", static_seconds},
                 {"resolve_seconds", resolve_seconds},
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
      // Files print independently, and printing is most of what writing scan.json costs. Each
      // thread writes into one buffer, reused file after file, and each file's text is copied
      // out at its size: a writer per file grew a fresh buffer by doubling, file after file.
      std::vector<std::string> file_texts(files.size());
      for_each_index(files.size(), jobs, [&](size_t i) {
        thread_local JsonWriter out(4);
        out.clear();
        out.raw(i == 0 ? "[\n    " : ",\n    ");
        write_file(out, files[i]);
        file_texts[i] = out.text();
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
