// Finds the smallest allowlist that makes a weights-only load succeed, by asking torch again
// with each global it reports added, the way a user following its message would. The same
// search lists every blocked global, where torch's message names only the first.
#pragma once

#include "records/classify.h"

#include <functional>
#include <string>
#include <vector>

namespace loadmatrix {

struct AllowlistSearch {
  bool loaded = false;                    // the last attempt loaded
  std::vector<std::string> allowlist;     // what was allowlisted, all safe
  std::vector<std::string> blocked;       // every global refused on the way, in order
  BlockReason reason = BlockReason::none; // the first refusal's reason
  std::string stop;                       // why no safe allowlist exists, when none does
  Json last_facts;                        // the last attempt's probe facts
  int rounds = 0;
};

// `load(allowlist)` loads the file under weights_only with those globals allowlisted and
// returns the probe's facts.
using LoadWithAllowlist = std::function<Json(const std::vector<std::string>&)>;

AllowlistSearch search_allowlist(const LoadWithAllowlist& load, int max_rounds = 32);

} // namespace loadmatrix
