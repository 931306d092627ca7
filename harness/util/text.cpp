#include "util/text.h"

#include "util/utf8.h"

#include <algorithm>
#include <sstream>

namespace loadmatrix {

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string joined;
  for (const auto& item : items) {
    joined += (joined.empty() ? "" : separator) + item;
  }
  return joined;
}

std::string trim(const std::string& text) {
  const char* space = " \t\r\n\v\f";
  size_t begin = text.find_first_not_of(space);
  if (begin == std::string::npos) {
    return "";
  }
  return text.substr(begin, text.find_last_not_of(space) - begin + 1);
}

std::string last_lines(const std::string& text, size_t count) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  size_t from = lines.size() > count ? lines.size() - count : 0;
  return join(std::vector<std::string>(lines.begin() + static_cast<long>(from), lines.end()),
              "\n  ");
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

void append_unique(std::vector<std::string>& items, const std::vector<std::string>& more) {
  for (const auto& item : more) {
    if (!contains(items, item)) {
      items.push_back(item);
    }
  }
}

std::string first_line(const std::string& text, size_t limit) {
  std::string line = text.substr(0, text.find('\n'));
  // Cut on a character boundary: a message cut inside one is not UTF-8 any more, and JSON
  // writers refuse it.
  return line.size() > limit ? truncate_utf8(line, limit) + "..." : line;
}

} // namespace loadmatrix
