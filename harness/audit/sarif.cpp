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
    // Through helpers: one code flow, the user's call first and the loader's call last, each
    // hop a thread flow location (SARIF 2.1.0 section 3.36).
    Json code_flows;
    if (!site.chain.empty()) {
      Json steps = Json::array();
      steps.push_back({{"location", Json{{"physicalLocation", location["physicalLocation"]},
                                         {"message", {{"text", "calls " + site.via}}}}}});
      for (const auto& hop : site.chain) {
        Json hop_region = {{"startLine", hop.line}, {"startColumn", hop.column}};
        if (!hop.code.empty()) {
          hop_region["snippet"] = {{"text", hop.code}};
        }
        std::string text = hop.package.empty() ? "in " + hop.function
                                               : fmt::format("in {} ({} {})", hop.function,
                                                             hop.package, hop.package_version);
        steps.push_back(
            {{"location", Json{{"physicalLocation",
                                {{"artifactLocation", sarif_artifact_location(hop.path, base)},
                                 {"region", std::move(hop_region)}}},
                               {"message", {{"text", std::move(text)}}}}}});
      }
      code_flows = Json::array({Json{
          {"message", {{"text", "from this call to " + site.callee + " through " + site.via}}},
          {"threadFlows", Json::array({Json{{"locations", std::move(steps)}}})}}});
    }
    for (const auto& finding : call.findings) {
      Json result = sarif_result(
          audit_rules(), finding.rule, finding.message + ". Suggested: " + finding.suggestion,
          Json::array({location}),
          {{"callee", site.callee}, {"suggestion", finding.suggestion}, {"effective", per_env}});
      if (!code_flows.is_null()) {
        result["codeFlows"] = code_flows;
      }
      results.push_back(std::move(result));
    }
  }
  Json notifications = Json::array();
  for (const auto& file : audit.files) {
    for (const auto& note : file.notes) {
      notifications.push_back(
          {{"level", "note"},
           {"message", {{"text", fmt::format("{}: {}", file.input.display, note)}}},
           {"locations",
            Json::array({Json{
                {"physicalLocation",
                 Json{{"artifactLocation", sarif_artifact_location(file.input.file, base)}}}}})}});
    }
  }
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
