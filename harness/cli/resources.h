// Where loadmatrix's own files are: located once, here, and handed down in each job's request
// (runtime/shipped_files.h says why no stage below looks for them). LOADMATRIX_HOME overrides
// them; an installed loadmatrix (the wheel) finds them in ../share/loadmatrix beside its binary;
// a build, in the source tree.
#pragma once

#include "runtime/shipped_files.h"

#include <filesystem>

namespace loadmatrix {

struct Resources {
  std::filesystem::path home;          // the source tree (cases/, matrix/, reports/, README.md)
  std::filesystem::path cases_dir;     // the built-in corpus: recipes, scenarios, fixtures
  std::filesystem::path report_assets; // reports/: report.css, report.js, the schemas
  ShippedFiles shipped;                // what runs inside envs
  // matrix/facts/releases.json: every release's measured facts (probes/env_facts.h), what scan
  // and audit predict from for an env that is not provisioned
  std::filesystem::path facts;
};

const Resources& resources();

} // namespace loadmatrix
