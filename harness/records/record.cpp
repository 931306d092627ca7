#include "records/record.h"

#include <fmt/core.h>

namespace loadmatrix {

std::string Record::key() const {
  return case_name + "|" + producer + "|" + consumer + "|" + loader_mode_id(mode);
}

Json Record::to_json() const {
  Json value = {{"case", case_name},
                {"producer", producer},
                {"consumer", consumer},
                {"mode", loader_mode_id(mode)},
                {"outcome", outcome_id(outcome)},
                {"blocked_globals", blocked_globals},
                {"reason", block_reason_id(reason)},
                {"error_type", error_type},
                {"message", message},
                {"duration_ms", duration_ms}};
  if (!allowlist.empty()) {
    value["allowlist"] = allowlist;
  }
  if (!detail.empty()) {
    value["detail"] = detail;
  }
  if (call_site) {
    value["call_site"] = {{"file", call_site->file},
                          {"line", call_site->line},
                          {"function", call_site->function},
                          {"code", call_site->code}};
    if (!call_site->package.empty()) {
      value["call_site"]["package"] = call_site->package;
      value["call_site"]["package_version"] = call_site->package_version;
    }
  }
  if (!code_fixes.empty()) {
    Json fixes = Json::array();
    for (const auto& fix : code_fixes) {
      Json entry = {{"kind", fix.kind}, {"verified", fix.verified}};
      if (!fix.allowlist.empty()) {
        entry["allowlist"] = fix.allowlist;
      }
      if (!fix.detail.empty()) {
        entry["detail"] = fix.detail;
      }
      fixes.push_back(std::move(entry));
    }
    value["code_fixes"] = std::move(fixes);
  }
  if (!object_paths.empty()) {
    value["object_paths"] = object_paths;
  }
  if (portable) {
    value["portable"] = {{"globals", portable->globals},
                         {"verified", portable->verified},
                         {"detail", portable->detail}};
  }
  return value;
}

Expected<Record> Record::from_json(const Json& value, const std::string& origin) {
  Record record;
  try {
    record.case_name = value.at("case").get<std::string>();
    record.producer = value.at("producer").get<std::string>();
    record.consumer = value.at("consumer").get<std::string>();
    auto mode = parse_record_mode(value.at("mode").get<std::string>());
    if (!mode) {
      return Error{fmt::format("{}: mode: unknown mode {}", origin, value.at("mode").dump())};
    }
    record.mode = *mode;
    auto outcome = parse_outcome(value.at("outcome").get<std::string>());
    if (!outcome) {
      return Error{
          fmt::format("{}: outcome: unknown outcome {}", origin, value.at("outcome").dump())};
    }
    record.outcome = *outcome;
    record.blocked_globals = value.value("blocked_globals", std::vector<std::string>{});
    auto reason = parse_block_reason(value.value("reason", ""));
    if (!reason) {
      return Error{fmt::format("{}: reason: unknown reason {}", origin, value.at("reason").dump())};
    }
    record.reason = *reason;
    record.error_type = value.value("error_type", "");
    record.message = value.value("message", "");
    record.duration_ms = value.value("duration_ms", 0LL);
    record.allowlist = value.value("allowlist", std::vector<std::string>{});
    record.detail = value.value("detail", "");
    if (auto site = value.find("call_site"); site != value.end() && site->is_object()) {
      record.call_site = CallSiteRef{
          site->value("file", ""), site->value("line", 0LL),   site->value("function", ""),
          site->value("code", ""), site->value("package", ""), site->value("package_version", "")};
    }
    if (auto fixes = value.find("code_fixes"); fixes != value.end() && fixes->is_array()) {
      for (const auto& fix : *fixes) {
        record.code_fixes.push_back(
            {fix.at("kind").get<std::string>(), fix.value("verified", false),
             fix.value("allowlist", std::vector<std::string>{}), fix.value("detail", "")});
      }
    }
    if (auto check = value.find("portable"); check != value.end() && check->is_object()) {
      record.portable = PortableCheck{check->value("globals", std::vector<std::string>{}),
                                      check->value("verified", false), check->value("detail", "")};
    }
    if (auto paths = value.find("object_paths"); paths != value.end() && paths->is_object()) {
      for (const auto& [global, path] : paths->items()) {
        if (path.is_string()) {
          record.object_paths[global] = path.get<std::string>();
        }
      }
    }
  } catch (const Json::exception& e) {
    return Error{fmt::format("{}: {}", origin, e.what())};
  }
  return record;
}

} // namespace loadmatrix
