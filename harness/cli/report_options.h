// The flags run, report, diff and merge share for publishing (publish/publish.h): the
// baseline, the --fail-on policy and extra env pairs.
#pragma once

#include "publish/publish.h"

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace loadmatrix {

struct ReportOptions {
  std::string baseline;
  std::string fail_on = "new";
  std::vector<std::string> from;
  std::vector<std::string> to;

  void add_to(CLI::App& command);
  // The flags as publish options; a bad policy or unpaired --from/--to throws FatalError.
  PublishOptions publish_options() const;
};

} // namespace loadmatrix
