// What a job over files (scan, audit) writes besides its table: its JSON document and SARIF,
// each to a file or standard output, and under --out those with its reports. Each document is
// made only when something writes it (a large codebase's is megabytes).
#pragma once

#include "publish/exit_status.h"
#include "publish/job_output.h"
#include "util/output_file.h"
#include "util/terminal.h"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

struct DocumentOutputs {
  std::optional<OutputTarget> json;             // the job's document, maybe standard output
  std::optional<OutputTarget> sarif;            // SARIF 2.1.0, maybe standard output
  std::optional<std::filesystem::path> out_dir; // both documents, the reports
  std::filesystem::path sarif_base;             // SARIF's uriBaseId SRCROOT: the working dir
  std::string information_uri;                  // the tool's documentation, in SARIF
  std::filesystem::path report_assets;          // report.css and report.js
  size_t width = 80;                            // the table's
  Palette palette;
};

// "loadmatrix: no WHAT found under PATH, ..." on `output`'s err, and nothing_found: a CI job
// pointed at the wrong directory must fail, not pass on an empty scan.
ExitStatus nothing_found_under(const std::vector<std::filesystem::path>& paths,
                               std::string_view what, JobOutput& output);

} // namespace loadmatrix
