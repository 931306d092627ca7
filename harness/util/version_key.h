// A dotted version as numbers, to order versions: "2.6.0+debian" -> {2, 6, 0},
// "1.13.0a0" -> {1, 13, 0}, "3.14.10" -> {3, 14, 10}. At most four parts; reading stops at the
// first character that is neither a digit nor a dot.
#pragma once

#include <string>
#include <vector>

namespace loadmatrix {

std::vector<int> version_key(const std::string& version);

} // namespace loadmatrix
