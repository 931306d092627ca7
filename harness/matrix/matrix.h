// A matrix file: which environments a run covers. Loading validates every field and names
// the file and field of the first problem; a matrix that loads is safe to act on.
#pragma once

#include "matrix/env_spec.h"

#include <filesystem>
#include <string>
#include <vector>

namespace loadmatrix {

inline constexpr const char* kMatrixSchema = "loadmatrix.matrix/1";

// Which producers' files each consumer env loads. `all`: every env's (N x N: right for a few
// envs). `consecutive`: its own and the env's before it in the matrix (2N - 1), for a matrix of
// many releases in order (matrix/releases.json): the checkpoint a user saved on the release they
// leave, loaded on the one they move to, without 17 x 17 pairs nobody upgrades across.
enum class Pairs { all, consecutive };

const char* pairs_name(Pairs pairs);

// The producers `consumers[index]` loads from, of `consumers` (in matrix order).
std::vector<std::string> producers_loaded_by(const std::vector<std::string>& consumers,
                                             size_t index, Pairs pairs);

struct Matrix {
  std::filesystem::path origin;
  std::vector<EnvSpec> envs;
  Pairs pairs = Pairs::all;

  const EnvSpec* find_env(const std::string& name) const;
  // The envs named, in matrix order; all of them when `names` is empty. Throws FatalError
  // naming an unknown env and the ones the matrix has.
  std::vector<EnvSpec> select_envs(const std::vector<std::string>& names) const;
};

Matrix load_matrix(const std::filesystem::path& path);
Matrix parse_matrix(const Json& document, const std::string& origin);

} // namespace loadmatrix
