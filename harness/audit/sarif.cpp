#include "audit/sarif.h"

#include "envs/resources.h"

#include <fmt/core.h>

namespace loadmatrix {

std::string uri_path(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
    out += unreserved ? std::string(1, static_cast<char>(c)) : fmt::format("%{:02X}", c);
  }
  return out;
}

namespace {

Json artifact_location(const InputFile& input, const std::filesystem::path& base) {
  std::filesystem::path file = input.file.lexically_normal();
  std::filesystem::path relative = file.lexically_relative(base);
  if (!base.empty() && !relative.empty() && *relative.begin() != "..") {
    return {{"uri", uri_path(relative.native())}, {"uriBaseId", "SRCROOT"}};
  }
  return {{"uri", "file://" + uri_path(file.native())}};
}

const char* level_of(const std::string& rule) {
  for (const auto& known : audit_rules()) {
    if (rule == known.id) {
      return known.level;
    }
  }
  return "warning";
}

size_t index_of(const std::string& rule) {
  const auto& rules = audit_rules();
  for (size_t i = 0; i < rules.size(); ++i) {
    if (rule == rules[i].id) {
      return i;
    }
  }
  return 0;
}

Json driver() {
  Json rules = Json::array();
  for (const auto& rule : audit_rules()) {
    rules.push_back({{"id", rule.id},
                     {"name", rule.name},
                     {"shortDescription", {{"text", rule.description}}},
                     {"defaultConfiguration", {{"level", rule.level}}}});
  }
  // loadmatrix has no public page: its documentation is the README beside the binary, which is
  // what the tool's information URI names (SARIF2005 asks for one).
  return {{"name", "loadmatrix"},
          {"version", "0.1.0"},
          {"informationUri",
           "file://" + uri_path((resources().home / "README.md").lexically_normal().native())},
          {"rules", std::move(rules)}};
}

} // namespace

Json audit_sarif(const AuditJobResult& job, const std::filesystem::path& base) {
  const AuditResult& audit = job.result;
  Json results = Json::array();
  for (const auto& call : audit.calls) {
    const CallSite& site = call.site;
    Json region = {{"startLine", site.line},
                   {"startColumn", site.column},
                   {"endLine", std::max(site.end_line, site.line)}};
    if (!site.code.empty()) {
      region["snippet"] = {{"text", site.code}};
    }
    Json location = {{"physicalLocation",
                      {{"artifactLocation", artifact_location(audit.files[site.file].input, base)},
                       {"region", std::move(region)}}}};
    if (site.function != "<module>") {
      location["logicalLocations"] =
          Json::array({Json{{"fullyQualifiedName", site.function}, {"kind", "function"}}});
    }
    Json per_env = Json::object();
    for (size_t i = 0; i < audit.envs.size(); ++i) {
      per_env[audit.envs[i].spec.name] = call_outcome_name(call.effects[i].effective);
    }
    for (const auto& finding : call.findings) {
      results.push_back(
          {{"ruleId", finding.rule},
           {"ruleIndex", index_of(finding.rule)},
           {"level", level_of(finding.rule)},
           {"message", {{"text", finding.message + ". Suggested: " + finding.suggestion}}},
           {"locations", Json::array({location})},
           {"properties",
            {{"callee", site.callee},
             {"suggestion", finding.suggestion},
             {"effective", per_env}}}});
    }
  }
  Json notifications = Json::array();
  for (const auto& file : audit.files) {
    if (!file.ok) {
      notifications.push_back(
          {{"level", "error"},
           {"message", {{"text", fmt::format("{}: {}", file.input.display, file.error)}}},
           {"locations", Json::array({Json{{"physicalLocation",
                                            Json{{"artifactLocation",
                                                  artifact_location(file.input, base)}}}}})}});
    }
  }
  Json run = {{"tool", {{"driver", driver()}}},
              {"columnKind", "unicodeCodePoints"},
              {"invocations",
               Json::array({Json{{"executionSuccessful", true},
                                 {"toolExecutionNotifications", std::move(notifications)}}})},
              {"results", std::move(results)}};
  if (!base.empty()) {
    std::string root = uri_path(base.lexically_normal().native());
    run["originalUriBaseIds"] = {
        {"SRCROOT", {{"uri", "file://" + root + (root.ends_with("/") ? "" : "/")}}}};
  }
  return {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
          {"version", "2.1.0"},
          {"runs", Json::array({std::move(run)})}};
}

} // namespace loadmatrix
