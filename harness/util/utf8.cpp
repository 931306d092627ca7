#include "util/utf8.h"

#include <algorithm>

namespace loadmatrix {

namespace {

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

} // namespace

bool is_valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t length = utf8_sequence_length(text, i);
    if (length == 0) {
      return false;
    }
    i += length;
  }
  return true;
}

std::string valid_utf8(std::string text) {
  if (is_ascii(text) || is_valid_utf8(text)) {
    return text;
  }
  std::string out;
  out.reserve(text.size() + 16);
  append_escaped_utf8(out, text, false);
  return out;
}

std::string printable_name(std::string bytes) {
  // The scan calls this for every global and member name of every file: the common all-ASCII,
  // control-free name is returned whole (moved), not copied a sequence at a time.
  if (std::none_of(bytes.begin(), bytes.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u >= 0x7f;
      })) {
    return bytes;
  }
  std::string out;
  out.reserve(bytes.size() + 16);
  append_escaped_utf8(out, bytes, true);
  return out;
}

std::string truncate_utf8(const std::string& text, size_t limit) {
  size_t cut = std::min(limit, text.size());
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  // Find where the last kept sequence starts, then drop it if it lacks continuation bytes.
  size_t lead = cut;
  while (lead > 0 && cut - lead < 4 && (byte(lead - 1) & 0xC0) == 0x80) {
    --lead;
  }
  if (lead > 0) {
    unsigned char first = byte(lead - 1);
    size_t needed = first >= 0xF0 ? 4 : first >= 0xE0 ? 3 : first >= 0xC0 ? 2 : 1;
    if (cut - (lead - 1) < needed) {
      cut = lead - 1;
    }
  }
  return text.substr(0, cut);
}

} // namespace loadmatrix
