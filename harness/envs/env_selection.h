// The envs of a matrix a job works with: the selection resolved against the env cache, each
// provisioned env opened (or, when asked, built). An env that is not provisioned is named, never
// silently left out: scan and audit predict from each env's measured facts, and a report that
// quietly covers fewer versions than the matrix would mislead.
#pragma once

#include "envs/environment.h"
#include "envs/provisioner.h"

#include <filesystem>
#include <string>
#include <vector>

namespace loadmatrix {

// Whether a job builds the matrix's envs that do not exist yet, or uses only the provisioned
// ones (naming the others).
enum class EnvProvisioning { kUseExisting, kBuildMissing };

struct EnvSelection {
  std::vector<Environment> envs;    // in the matrix's order
  std::vector<std::string> missing; // of the selection, not provisioned: named and logged
};

// `names` empty: every env of the matrix. Throws FatalError for a bad matrix, an unknown env
// name or a failed provisioning.
EnvSelection select_envs(const std::filesystem::path& matrix, const std::filesystem::path& env_dir,
                         const std::vector<std::string>& names, EnvProvisioning provisioning,
                         ProcessRunner& runner, const Provisioner::Log& log);

} // namespace loadmatrix
