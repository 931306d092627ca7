#include "util/xml_text.h"

#include "util/utf8.h"

namespace loadmatrix {

namespace {

// The length of the valid UTF-8 sequence at `i` that XML 1.0 also allows (not U+FFFE or
// U+FFFF), or 0.
size_t xml_sequence_length(std::string_view text, size_t i) {
  size_t length = utf8_sequence_length(text, i);
  if (length == 3 && static_cast<unsigned char>(text[i]) == 0xEF &&
      static_cast<unsigned char>(text[i + 1]) == 0xBF &&
      static_cast<unsigned char>(text[i + 2]) >= 0xBE) {
    return 0;
  }
  return length;
}

} // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t length = xml_sequence_length(text, i);
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
