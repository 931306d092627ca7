#include "util/version_key.h"

#include <cctype>

namespace loadmatrix {

std::vector<int> version_key(const std::string& version) {
  std::vector<int> key;
  size_t i = 0;
  while (i < version.size() && key.size() < 4) {
    if (!std::isdigit(static_cast<unsigned char>(version[i]))) {
      break;
    }
    int number = 0;
    while (i < version.size() && std::isdigit(static_cast<unsigned char>(version[i]))) {
      number = number * 10 + (version[i] - '0');
      ++i;
    }
    key.push_back(number);
    if (i < version.size() && version[i] == '.') {
      ++i;
    } else {
      break;
    }
  }
  return key;
}

} // namespace loadmatrix
