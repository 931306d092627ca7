#include "util/text_table.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

TextTable scan_like() {
  TextTable table;
  table.head = {"FILE",         "VERDICT",   "bullseye 1.7.0a0", "bookworm 1.13.0a0",
                "trixie 2.6.0", "sid 2.14.1"};
  table.key_columns = 2;
  table.rows = {{{"ckpt/args.pt"},
                 {"breaks", Tone::warn},
                 {"pass", Tone::good},
                 {"pass", Tone::good},
                 {"blocked (1) fix✓", Tone::warn},
                 {"blocked (1) fix✓", Tone::warn}}};
  return table;
}

size_t widest_line(const std::string& text) {
  size_t widest = 0;
  size_t start = 0;
  for (size_t end = text.find('\n'); end != std::string::npos; end = text.find('\n', start)) {
    widest = std::max(widest, display_width(text.substr(start, end - start)));
    start = end + 1;
  }
  return widest;
}

} // namespace

TEST(TextTableTest, ColumnsWhenTheyFitCountingDisplayColumnsNotBytes) {
  std::string out = render_table(scan_like(), 200, Palette(false));
  EXPECT_EQ(out.substr(0, out.find('\n')),
            "FILE          VERDICT  bullseye 1.7.0a0  bookworm 1.13.0a0  trixie 2.6.0      "
            "sid 2.14.1");
  // "fix✓" is four columns, though five bytes: the next column starts where the header's does.
  EXPECT_NE(out.find("blocked (1) fix✓  blocked (1) fix✓\n"), std::string::npos) << out;
}

TEST(TextTableTest, ARowTooWideForTheTerminalIsStackedWithinIt) {
  std::string out = render_table(scan_like(), 80, Palette(false));
  EXPECT_LE(widest_line(out), 80u) << out;
  EXPECT_EQ(out.substr(0, out.find('\n')), "FILE  VERDICT");
  EXPECT_NE(out.find("\nckpt/args.pt  breaks\n"), std::string::npos) << out;
  EXPECT_NE(out.find("bullseye 1.7.0a0 pass"), std::string::npos) << out;
  EXPECT_NE(out.find("sid 2.14.1 blocked (1) fix✓"), std::string::npos) << out;
  EXPECT_LE(widest_line(render_table(scan_like(), 40, Palette(false))), 40u);
}

TEST(TextTableTest, TonesAreEscapeCodesOnlyWhenColourIsOnAndTakeNoWidth) {
  std::string plain = render_table(scan_like(), 200, Palette(false));
  std::string coloured = render_table(scan_like(), 200, Palette(true));
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  EXPECT_NE(coloured.find("\x1b[32mpass\x1b[0m"), std::string::npos) << coloured;
  EXPECT_EQ(widest_line(coloured), widest_line(plain));
  EXPECT_EQ(display_width("\x1b[31;1mbreaks\x1b[0m"), 6u);
  EXPECT_EQ(fit_width("a·b·c", 3), "a·b");
  EXPECT_EQ(fit_width("ab", 5), "ab");
}

TEST(TextTableTest, ColourFollowsTheChoiceNoColorAndTheTerminal) {
  EXPECT_EQ(parse_color_choice("auto"), ColorChoice::automatic);
  EXPECT_FALSE(parse_color_choice("yes"));
  EXPECT_TRUE(color_enabled(ColorChoice::always, -1));
  EXPECT_FALSE(color_enabled(ColorChoice::never, -1));
  EXPECT_FALSE(color_enabled(ColorChoice::automatic, -1)); // not a terminal
}
