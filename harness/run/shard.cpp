#include "run/shard.h"

#include "util/error.h"

#include <fmt/core.h>
#include <sstream>

namespace loadmatrix {

Shard Shard::parse(const std::string& text) {
  Shard shard;
  char slash = 0;
  std::istringstream in(text);
  if (!(in >> shard.index >> slash >> shard.count) || slash != '/' || !in.eof() ||
      shard.count == 0 || shard.index == 0 || shard.index > shard.count) {
    throw FatalError(fmt::format("--shard: '{}' is not I/N with 1 <= I <= N", text));
  }
  return shard;
}

std::vector<std::string> consumers_in_shard(const std::vector<std::string>& consumers,
                                            const std::vector<CaseSpec>& cases, Shard shard) {
  std::vector<std::string> selected;
  size_t total = consumers.size() * cases.size();
  for (size_t e = 0; e < consumers.size(); ++e) {
    for (size_t c = 0; c < cases.size(); ++c) {
      if (shard.contains(e * cases.size() + c, total)) {
        selected.push_back(consumers[e]);
        break;
      }
    }
  }
  return selected;
}

} // namespace loadmatrix
