// The tail every job shares (run, report, diff, merge, scan): from a results document to the
// three reports, the headline, and the exit status. A job produces records; publishing them is
// the same whichever job it was.
#pragma once

#include "analysis/fail_policy.h"
#include "analysis/results_model.h"
#include "publish/exit_status.h"
#include "util/terminal.h"

#include <filesystem>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace loadmatrix {

struct PublishOptions {
  std::filesystem::path baseline; // an earlier results.json; empty: none
  FailOn fail_on = FailOn::new_failures;
  // Env pairs compared besides each adjacent pair in torch-version order (--from/--to).
  std::vector<std::pair<std::string, std::string>> extra_pairs;
  Palette palette; // the headline's colours on `out` (off unless it is a terminal)
  std::filesystem::path report_assets; // report.css and report.js (reports/report_writer.h)
};

// Builds the results model (with the baseline, if any), writes report.html, summary.md and
// junit.xml into `out_dir`, prints the headline per version change to `out`, and returns
// ok or failing as the policy decides (the reason goes to `err`). A bad baseline file or an
// output that cannot be written throws FatalError naming it.
ExitStatus publish(Json header, std::vector<Record> records, const std::filesystem::path& out_dir,
                   const PublishOptions& options, std::ostream& out, std::ostream& err);

} // namespace loadmatrix
