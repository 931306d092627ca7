// `loadmatrix facts export`: provisioned envs' measured facts written as data
// (probes/env_facts.h), for scan and audit where those envs do not exist. Each env answers, in its
// sandbox, about the globals named by the checkpoints under `globals_from` (the case corpus's,
// for the shipped facts), so that a prediction from the facts equals one from the env on them.
#pragma once

#include "probes/env_facts.h"
#include "session/env_preparation.h"

#include <filesystem>
#include <string>
#include <vector>

namespace loadmatrix {

struct FactsExportRequest {
  std::filesystem::path matrix;
  std::vector<std::string> envs; // of the matrix; empty: all
  EnvPreparation preparation;
  std::vector<std::filesystem::path> globals_from; // checkpoint files and directories
  std::filesystem::path out;
  // Keep the envs already in `out` that this export does not measure (one env at a time, as a
  // machine with one release's disk must).
  bool update = false;
};

struct FactsExportResult {
  FactsFile facts;
  std::vector<std::string> exported; // measured now
  std::vector<std::string> missing;  // of the selection, not provisioned: not exported
};

// Throws FatalError for a bad matrix, an unreadable `out` under `update`, or a file not written;
// an env whose resolver fails is exported without answers, and logged.
FactsExportResult export_facts(const FactsExportRequest& request, ProcessRunner& runner,
                               const ProgressLog& log);

} // namespace loadmatrix
