#include "records/allowlist_search.h"

#include "util/text.h"

#include <fmt/core.h>

namespace loadmatrix {

AllowlistSearch search_allowlist(const LoadWithAllowlist& load, int max_rounds) {
  AllowlistSearch search;
  for (search.rounds = 1; search.rounds <= max_rounds; ++search.rounds) {
    search.last_facts = load(search.allowlist);
    Classification attempt = classify(search.last_facts, nullptr);
    if (attempt.outcome != Outcome::blocked) {
      search.loaded = attempt.outcome == Outcome::pass;
      return search;
    }
    const Refusal& refusal = attempt.refusal;
    if (search.reason == BlockReason::none) {
      search.reason = refusal.reason;
    }
    for (const auto& global : refusal.globals) {
      if (!contains(search.blocked, global)) {
        search.blocked.push_back(global);
      }
    }
    if (refusal.globals.empty()) {
      search.stop =
          fmt::format("refused without naming a global ({})", block_reason_id(refusal.reason));
      return search;
    }
    std::vector<std::string> added;
    for (const auto& global : refusal.globals) {
      if (refusal.reason == BlockReason::module_blocklisted) {
        search.stop =
            fmt::format("{} is in a module torch blocklists; no allowlist admits it", global);
        return search;
      }
      if (is_dangerous_global(global)) {
        search.stop =
            fmt::format("{} can run arbitrary code; it must never be allowlisted", global);
        return search;
      }
      if (!contains(search.allowlist, global)) {
        added.push_back(global);
      }
    }
    if (added.empty()) {
      search.stop = fmt::format("torch refuses {} even when allowlisted ({})",
                                refusal.globals.front(), block_reason_id(refusal.reason));
      return search;
    }
    search.allowlist.insert(search.allowlist.end(), added.begin(), added.end());
  }
  search.stop = fmt::format("still refused after {} allowlist rounds", max_rounds);
  return search;
}

} // namespace loadmatrix
