#include "reports/xml_text.h"

namespace loadmatrix {

namespace {

// Length of the valid UTF-8 sequence at `i`, or 0.
size_t utf8_sequence(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char first = byte(i);
  size_t length = first < 0x80           ? 1
                  : (first >> 5) == 0x6  ? 2
                  : (first >> 4) == 0xE  ? 3
                  : (first >> 3) == 0x1E ? 4
                                         : 0;
  if (length == 0 || i + length > text.size()) {
    return 0;
  }
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      return 0;
    }
  }
  // U+FFFE and U+FFFF are not XML characters.
  if (length == 3 && first == 0xEF && byte(i + 1) == 0xBF && byte(i + 2) >= 0xBE) {
    return 0;
  }
  return length;
}

} // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t length = utf8_sequence(text, i);
    if (length == 0) {
      ++i; // invalid byte: dropped
      continue;
    }
    char c = text[i];
    if (length == 1) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') {
        ++i;
        continue;
      }
      switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
      }
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  return out;
}

} // namespace loadmatrix
