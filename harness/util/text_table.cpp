#include "util/text_table.h"

#include <algorithm>

namespace loadmatrix {

namespace {

std::string padded(const TableCell& cell, size_t width, const Palette& palette) {
  size_t used = display_width(cell.text);
  return palette.paint(cell.text, cell.tone) + std::string(width > used ? width - used : 0, ' ');
}

std::string trimmed(std::string line) {
  line.erase(line.find_last_not_of(' ') + 1);
  return line + "\n";
}

} // namespace

std::string render_table(const TextTable& table, size_t width, const Palette& palette) {
  std::vector<size_t> widths(table.head.size(), 0);
  for (size_t i = 0; i < table.head.size(); ++i) {
    widths[i] = display_width(table.head[i]);
  }
  for (const auto& row : table.rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i].text));
    }
  }
  size_t total = 0;
  for (size_t w : widths) {
    total += w + 2;
  }
  std::string out;
  if (total <= width + 2) {
    std::string line;
    for (size_t i = 0; i < table.head.size(); ++i) {
      line += padded({table.head[i], Tone::bold}, widths[i] + 2, palette);
    }
    out += trimmed(line);
    for (const auto& row : table.rows) {
      line.clear();
      for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
        line += padded(row[i], widths[i] + 2, palette);
      }
      out += trimmed(line);
    }
    return out;
  }
  // Stacked: the key columns' headings once; per row its key cells, then each other cell as
  // "HEADING value", packed into lines.
  size_t keys = std::min(table.key_columns, table.head.size());
  std::string heading;
  for (size_t i = 0; i < keys; ++i) {
    heading += (i ? "  " : "") + palette.paint(table.head[i], Tone::bold);
  }
  out += heading + "\n";
  for (const auto& row : table.rows) {
    std::string line;
    for (size_t i = 0; i < keys && i < row.size(); ++i) {
      line += (i ? "  " : "") + palette.paint(row[i].text, row[i].tone);
    }
    out += line + "\n";
    line = "   ";
    size_t used = 3;
    for (size_t i = keys; i < row.size() && i < table.head.size(); ++i) {
      std::string item = table.head[i] + " " + palette.paint(row[i].text, row[i].tone);
      size_t item_width = display_width(table.head[i]) + 1 + display_width(row[i].text);
      if (used > 3 && used + 3 + item_width > width) {
        out += line + "\n";
        line = "   ";
        used = 3;
      }
      line += (used > 3 ? " · " : " ") + item;
      used += (used > 3 ? 3 : 1) + item_width;
    }
    if (used > 3) {
      out += line + "\n";
    }
  }
  return out;
}

} // namespace loadmatrix
