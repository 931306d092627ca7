// UTF-8 at the edges. Text from outside (paths, zip member names, pickle globals, torch's
// messages, worker and probe output) is made valid here before it reaches JSON, HTML, XML,
// Markdown or a terminal: nlohmann::json throws on invalid UTF-8 (type_error.316), browsers and
// XML parsers show or refuse it. One policy everywhere: an invalid byte becomes the visible text
// `\xNN`, as Python's "backslashreplace" shows it, so a path stays recognisable and two names
// that differ in one byte still differ. Paths keep their exact bytes for opening files; only
// what is shown is escaped.
//
// This header is self-contained (std only, the decoder inline) on purpose: the C++ probe, built
// inside each env against that env's libtorch, includes it too.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace loadmatrix {

// Length (1-4) of the valid UTF-8 sequence starting at text[i], or 0 when the bytes there are
// not one: a stray continuation or bad lead byte, a missing continuation, an overlong form, a
// UTF-16 surrogate (U+D800-U+DFFF, what Python's surrogateescape leaves) or a code point past
// U+10FFFF. These are exactly the sequences nlohmann::json refuses.
inline size_t utf8_sequence_length(std::string_view text, size_t i) {
  auto byte = [&](size_t at) { return static_cast<unsigned char>(text[at]); };
  unsigned char lead = byte(i);
  size_t length = lead < 0x80           ? 1
                  : (lead >> 5) == 0x6  ? 2
                  : (lead >> 4) == 0xe  ? 3
                  : (lead >> 3) == 0x1e ? 4
                                        : 0;
  if (length == 0 || i + length > text.size()) {
    return 0;
  }
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) {
      return 0;
    }
  }
  if ((length == 2 && lead < 0xc2) || (length == 3 && lead == 0xe0 && byte(i + 1) < 0xa0) ||
      (length == 3 && lead == 0xed && byte(i + 1) >= 0xa0) ||
      (length == 4 && (lead > 0xf4 || (lead == 0xf0 && byte(i + 1) < 0x90) ||
                       (lead == 0xf4 && byte(i + 1) >= 0x90)))) {
    return 0;
  }
  return length;
}

// Appends `text` to `out` with each invalid byte as `\xNN`; with `one_line`, C0 control
// characters and DEL too (a name shown on one line: a newline in a file name must not start a
// new table row or a new log line). `escape` replaces the `\x` prefix: `\\x` inside a
// JSON string literal, whose backslash must itself be escaped.
inline void append_escaped_utf8(std::string& out, std::string_view text, bool one_line,
                                std::string_view escape = "\\x") {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < text.size();) {
    size_t length = utf8_sequence_length(text, i);
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (length == 0 || (one_line && length == 1 && (c < 0x20 || c == 0x7f))) {
      out += escape;
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
      ++i;
      continue;
    }
    out.append(text.substr(i, length));
    i += length;
  }
}

bool is_valid_utf8(std::string_view text);

// A message (torch's error text, a traceback, a probe's output) as valid UTF-8: invalid bytes
// become `\xNN`; newlines and tabs stay. Returns `text` itself, moved, when it is already valid.
std::string valid_utf8(std::string text);

// A name shown on one line (a path, a zip member, a pickle global): valid UTF-8, with invalid
// bytes, C0 controls and DEL as `\xNN`. Names are nearly always ASCII: those are returned whole.
std::string printable_name(std::string bytes);

// Cuts `text` to at most `limit` bytes without splitting a UTF-8 sequence.
std::string truncate_utf8(const std::string& text, size_t limit);

} // namespace loadmatrix
