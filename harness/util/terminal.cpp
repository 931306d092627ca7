#include "util/terminal.h"

#include <cstdlib>
#include <sys/ioctl.h>
#include <unistd.h>

namespace loadmatrix {

std::optional<ColorChoice> parse_color_choice(std::string_view id) {
  if (id == "auto") {
    return ColorChoice::automatic;
  }
  if (id == "always") {
    return ColorChoice::always;
  }
  if (id == "never") {
    return ColorChoice::never;
  }
  return std::nullopt;
}

bool escape_capable_terminal(int fd) {
  const char* term = std::getenv("TERM");
  return ::isatty(fd) == 1 && !(term != nullptr && std::string_view(term) == "dumb");
}

bool color_enabled(ColorChoice choice, int fd) {
  if (choice != ColorChoice::automatic) {
    return choice == ColorChoice::always;
  }
  const char* no_color = std::getenv("NO_COLOR");
  return (no_color == nullptr || *no_color == '\0') && escape_capable_terminal(fd);
}

size_t output_width(int fd) {
  winsize size{};
  if (::isatty(fd) == 1 && ::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col;
  }
  if (const char* columns = std::getenv("COLUMNS"); columns && *columns) {
    char* end = nullptr;
    long value = std::strtol(columns, &end, 10);
    if (*end == '\0' && value >= 20 && value <= 1000) {
      return static_cast<size_t>(value);
    }
  }
  return 80;
}

std::string Palette::paint(std::string_view text, Tone tone) const {
  const char* code = nullptr;
  switch (tone) {
  case Tone::plain:
    break;
  case Tone::good:
    code = "32";
    break;
  case Tone::warn:
    code = "33";
    break;
  case Tone::bad:
    code = "31;1";
    break;
  case Tone::dim:
    code = "2";
    break;
  case Tone::bold:
    code = "1";
    break;
  }
  if (!enabled_ || code == nullptr || text.empty()) {
    return std::string(text);
  }
  return "\x1b[" + std::string(code) + "m" + std::string(text) + "\x1b[0m";
}

size_t display_width(std::string_view text) {
  size_t width = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == 0x1b && i + 1 < text.size() && text[i + 1] == '[') {
      i += 2;
      while (i < text.size() && !(text[i] >= '@' && text[i] <= '~')) {
        ++i;
      }
      continue;
    }
    if ((c & 0xC0) != 0x80) {
      ++width;
    }
  }
  return width;
}

std::string fit_width(std::string_view text, size_t width) {
  size_t columns = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && columns++ == width) {
      return std::string(text.substr(0, i));
    }
  }
  return std::string(text);
}

} // namespace loadmatrix
