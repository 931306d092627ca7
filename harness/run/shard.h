// Part I of N of a run's load work, for runs split across machines (the nightly workflow's
// shards). The unit is (consumer env, case), sorted by env first, so with N equal to the number
// of envs each shard needs exactly one env.
#pragma once

#include "matrix/case_catalog.h"

#include <string>
#include <vector>

namespace loadmatrix {

struct Shard {
  size_t index = 1; // 1-based
  size_t count = 1;

  static Shard parse(const std::string& text); // "I/N"; throws FatalError naming the problem
  bool contains(size_t unit, size_t total) const { return unit * count / total == index - 1; }
};

// Which consumer envs have load work in `shard`.
std::vector<std::string> consumers_in_shard(const std::vector<std::string>& consumers,
                                            const std::vector<CaseSpec>& cases, Shard shard);

} // namespace loadmatrix
