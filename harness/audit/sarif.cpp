#include "audit/sarif.h"

#include <fmt/core.h>

namespace loadmatrix {

Json audit_sarif(const AuditJobResult& job, const std::filesystem::path& base,
                 const std::string& information_uri) {
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
    Json location = {
        {"physicalLocation",
         {{"artifactLocation", sarif_artifact_location(audit.files[site.file].input.file, base)},
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
      results.push_back(sarif_result(
          audit_rules(), finding.rule, finding.message + ". Suggested: " + finding.suggestion,
          Json::array({location}),
          {{"callee", site.callee}, {"suggestion", finding.suggestion}, {"effective", per_env}}));
    }
  }
  Json notifications = Json::array();
  for (const auto& file : audit.files) {
    if (!file.ok) {
      notifications.push_back(
          {{"level", "error"},
           {"message", {{"text", fmt::format("{}: {}", file.input.display, file.error)}}},
           {"locations",
            Json::array({Json{
                {"physicalLocation",
                 Json{{"artifactLocation", sarif_artifact_location(file.input.file, base)}}}}})}});
    }
  }
  return sarif_log(audit_rules(), information_uri, std::move(results), std::move(notifications),
                   base);
}

} // namespace loadmatrix
