#include "util/sarif_log.h"

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

Json sarif_artifact_location(const std::filesystem::path& path, const std::filesystem::path& base) {
  std::filesystem::path file = path.lexically_normal();
  std::filesystem::path relative = file.lexically_relative(base);
  if (!base.empty() && !relative.empty() && *relative.begin() != "..") {
    return {{"uri", uri_path(relative.native())}, {"uriBaseId", "SRCROOT"}};
  }
  return {{"uri", "file://" + uri_path(file.native())}};
}

std::string sarif_information_uri(const std::filesystem::path& home) {
  return "file://" + uri_path((home / "README.md").lexically_normal().native());
}

const SarifRule* find_sarif_rule(const std::vector<SarifRule>& rules, std::string_view id) {
  for (const auto& rule : rules) {
    if (id == rule.id) {
      return &rule;
    }
  }
  return nullptr;
}

Json sarif_result(const std::vector<SarifRule>& rules, std::string_view id, std::string message,
                  Json locations, Json properties) {
  const SarifRule* rule = find_sarif_rule(rules, id);
  Json result = {{"ruleId", std::string(id)},
                 {"ruleIndex", rule ? static_cast<size_t>(rule - rules.data()) : 0},
                 {"level", rule ? rule->level : "warning"},
                 {"message", {{"text", std::move(message)}}},
                 {"locations", std::move(locations)}};
  if (!properties.empty()) {
    result["properties"] = std::move(properties);
  }
  return result;
}

Json sarif_log(const std::vector<SarifRule>& rules, const std::string& information_uri,
               Json results, Json notifications, const std::filesystem::path& base) {
  Json descriptors = Json::array();
  for (const auto& rule : rules) {
    descriptors.push_back({{"id", rule.id},
                           {"name", rule.name},
                           {"shortDescription", {{"text", rule.description}}},
                           {"defaultConfiguration", {{"level", rule.level}}}});
  }
  Json driver = {{"name", "loadmatrix"},
                 {"version", "0.1.0"},
                 {"informationUri", information_uri},
                 {"rules", std::move(descriptors)}};
  Json run = {{"tool", {{"driver", std::move(driver)}}},
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
