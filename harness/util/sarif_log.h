// What every loadmatrix SARIF 2.1.0 log shares (OASIS sarif-v2.1.0-os, the format code
// scanning reads: GitHub, Azure DevOps, VS Code's SARIF viewer): the driver and its rules, file
// locations relative to a base directory, the notifications of files that could not be read.
// audit (call sites) and scan (checkpoint files) fill in the results. Validated by Microsoft's
// SARIF multitool in both commands' tests.
#pragma once

#include "util/json_file.h"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

// A rule as SARIF's reportingDescriptor describes it.
struct SarifRule {
  const char* id;          // "LMA001": stable across releases
  const char* name;        // "weights-only-default-changes"
  const char* description; // one sentence
  const char* level;       // SARIF level: "error", "warning" or "note"
};

// RFC 3986: every byte outside the unreserved set and "/" percent-encoded.
std::string uri_path(const std::string& bytes);

// `file` under `base`: a URI relative to uriBaseId SRCROOT (= base), which is what code
// scanning matches against a repository; any other: an absolute file:// URI. Both are made from
// the path's bytes.
Json sarif_artifact_location(const std::filesystem::path& file, const std::filesystem::path& base);

// loadmatrix has no public page: its documentation is the README in `home` (the checkout the
// binary belongs to), which is what the tool's information URI names (SARIF2005 asks for one).
std::string sarif_information_uri(const std::filesystem::path& home);

const SarifRule* find_sarif_rule(const std::vector<SarifRule>& rules, std::string_view id);

// A result of rule `id` (which must be one of `rules`) at `location`s.
Json sarif_result(const std::vector<SarifRule>& rules, std::string_view id, std::string message,
                  Json locations, Json properties = Json::object());

// The log: one run of loadmatrix with `rules`, `results`, and `notifications` (each an error
// that kept the tool from examining something) as the invocation's.
Json sarif_log(const std::vector<SarifRule>& rules, const std::string& information_uri,
               Json results, Json notifications, const std::filesystem::path& base);

} // namespace loadmatrix
