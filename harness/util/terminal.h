// What the terminal on the other end of an output stream can show: colour (ANSI SGR codes), per
// the no-color.org convention and --color, and its width, for tables that must stay readable
// at 80 columns when they are piped or logged.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace loadmatrix {

enum class ColorChoice { automatic, always, never };

// "auto", "always", "never"; nullopt for anything else.
std::optional<ColorChoice> parse_color_choice(std::string_view id);
inline constexpr const char* kColorChoiceIds = "auto, always, never";

// Whether `fd` is a terminal that can take escape sequences: a tty, and TERM is not "dumb".
bool escape_capable_terminal(int fd);

// automatic: colour when `fd` is an escape-capable terminal and NO_COLOR is unset or empty
// (no-color.org).
bool color_enabled(ColorChoice choice, int fd);

// The columns a table written to `fd` may use: the terminal's width when `fd` is one, else
// $COLUMNS when it is a number, else 80.
size_t output_width(int fd);

// The tones output uses, each one SGR code: what passed, what needs attention, what failed.
enum class Tone { plain, good, warn, bad, dim, bold };

class Palette {
public:
  explicit Palette(bool enabled = false) : enabled_(enabled) {}
  bool enabled() const { return enabled_; }
  // `text` wrapped in the tone's code and a reset; `text` itself when disabled or plain.
  std::string paint(std::string_view text, Tone tone) const;

private:
  bool enabled_ = false;
};

// Columns `text` takes on a terminal: one per UTF-8 code point (the tables hold no wide
// characters), none for an ANSI escape sequence.
size_t display_width(std::string_view text);
// `text` cut to at most `width` display columns, never inside a UTF-8 sequence (escape
// sequences are not expected in it).
std::string fit_width(std::string_view text, size_t width);

} // namespace loadmatrix
