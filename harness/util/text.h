// Small string helpers shared by error messages.
#pragma once

#include <string>
#include <vector>

namespace loadmatrix {

std::string join(const std::vector<std::string>& items, const std::string& separator);
// The last `count` non-empty lines of `text`, indented for a multi-line error message.
std::string last_lines(const std::string& text, size_t count);
// Up to the first newline, cut at `limit` bytes with "..." added when longer.
std::string first_line(const std::string& text, size_t limit);
// `text` without leading and trailing ASCII whitespace (a command's one-line answer).
std::string trim(const std::string& text);
bool contains(const std::vector<std::string>& items, const std::string& item);
// Appends each of `more` that `items` does not hold yet, keeping first-seen order.
void append_unique(std::vector<std::string>& items, const std::vector<std::string>& more);

} // namespace loadmatrix
