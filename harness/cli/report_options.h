// The options run, report and diff share for analysis and exit status.
#pragma once

#include "analysis/fail_policy.h"
#include "analysis/results_model.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>
#include <vector>

namespace loadmatrix {

struct ReportOptions {
  std::string baseline;
  std::string fail_on = "new";
  std::vector<std::string> from;
  std::vector<std::string> to;

  void add_to(CLI::App& command);
  // Builds the model (with the baseline, if any), writes the three reports into `out_dir`,
  // prints the headline, and returns the exit status the policy gives.
  int analyse_and_report(Json header, std::vector<Record> records,
                         const std::filesystem::path& out_dir) const;
};

} // namespace loadmatrix
