// A table for a terminal or a log: aligned columns when they fit the width, else one record
// per row (its key cells on a line, then "HEADING value" pairs wrapped and indented), so a
// scan of four envs stays readable at 80 columns. Cells may carry a tone (util/terminal.h);
// widths are counted in display columns, never in bytes or escape codes.
#pragma once

#include "util/terminal.h"

#include <string>
#include <vector>

namespace loadmatrix {

struct TableCell {
  std::string text;
  Tone tone = Tone::plain;
};

struct TextTable {
  std::vector<std::string> head;
  std::vector<std::vector<TableCell>> rows; // each as long as `head`
  size_t key_columns = 1;                   // shown first on a record's line when stacked
};

std::string render_table(const TextTable& table, size_t width, const Palette& palette);

} // namespace loadmatrix
