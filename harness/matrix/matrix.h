// A matrix file: which environments a run covers. Loading validates every field and names
// the file and field of the first problem; a matrix that loads is safe to act on.
#pragma once

#include "matrix/env_spec.h"

#include <filesystem>
#include <string>
#include <vector>

namespace loadmatrix {

inline constexpr const char* kMatrixSchema = "loadmatrix.matrix/1";

struct Matrix {
  std::filesystem::path origin;
  std::vector<EnvSpec> envs;

  const EnvSpec* find_env(const std::string& name) const;
  // The envs named, in matrix order; all of them when `names` is empty. Throws FatalError
  // naming an unknown env and the ones the matrix has.
  std::vector<EnvSpec> select_envs(const std::vector<std::string>& names) const;
};

Matrix load_matrix(const std::filesystem::path& path);
Matrix parse_matrix(const Json& document, const std::string& origin);

} // namespace loadmatrix
