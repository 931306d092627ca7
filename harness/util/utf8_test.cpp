#include "util/utf8.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

TEST(Utf8Test, SequenceLengthRefusesWhatJsonRefuses) {
  EXPECT_EQ(utf8_sequence_length("a", 0), 1u);
  EXPECT_EQ(utf8_sequence_length("\xc3\xa9", 0), 2u);
  EXPECT_EQ(utf8_sequence_length("\xe2\x82\xac", 0), 3u);
  EXPECT_EQ(utf8_sequence_length("\xf0\x9f\x98\x80", 0), 4u);
  EXPECT_EQ(utf8_sequence_length("\xff", 0), 0u);             // never a lead byte
  EXPECT_EQ(utf8_sequence_length("\x80", 0), 0u);             // a stray continuation
  EXPECT_EQ(utf8_sequence_length("\xc3(", 0), 0u);            // a missing continuation
  EXPECT_EQ(utf8_sequence_length("\xc0\xaf", 0), 0u);         // overlong '/'
  EXPECT_EQ(utf8_sequence_length("\xed\xb3\xbf", 0), 0u);     // U+DCFF, a lone surrogate
  EXPECT_EQ(utf8_sequence_length("\xf4\x90\x80\x80", 0), 0u); // past U+10FFFF
  EXPECT_EQ(utf8_sequence_length("\xe2\x82", 0), 0u);         // cut short by the end
}

TEST(Utf8Test, ValidUtf8EscapesInvalidBytesAndKeepsLines) {
  EXPECT_EQ(valid_utf8("caf\xc3\xa9\nline two"), "caf\xc3\xa9\nline two");
  EXPECT_EQ(valid_utf8("bad byte \xff here"), "bad byte \\xff here");
  EXPECT_EQ(valid_utf8("k\xed\xb3\xbf"), "k\\xed\\xb3\\xbf");
  EXPECT_TRUE(is_valid_utf8(valid_utf8("\xc3\xc3\xa9\x80\xfe")));
  EXPECT_EQ(valid_utf8("\xc3\xc3\xa9"), "\\xc3\xc3\xa9");
}

TEST(Utf8Test, PrintableNameIsOneLineOfValidUtf8) {
  EXPECT_EQ(printable_name("caf\xc3\xa9.pt"), "caf\xc3\xa9.pt");
  EXPECT_EQ(printable_name("a\xc3("), "a\\xc3(");
  EXPECT_EQ(printable_name("\xed\xa0\x80"), "\\xed\\xa0\\x80"); // a surrogate
  EXPECT_EQ(printable_name("two\nlines\t.pt"), "two\\x0alines\\x09.pt");
  EXPECT_EQ(printable_name("del\x7f"), "del\\x7f");
  EXPECT_EQ(printable_name("-rf.pt"), "-rf.pt");
}

TEST(Utf8Test, TruncationNeverSplitsASequence) {
  EXPECT_EQ(truncate_utf8("\xc3\xa9\xc3\xa9", 3), "\xc3\xa9");
  EXPECT_EQ(truncate_utf8("a\xe2\x82\xac", 3), "a"); // 3-byte euro sign cut short
  EXPECT_EQ(truncate_utf8("a\xe2\x82\xac", 4), "a\xe2\x82\xac");
  EXPECT_EQ(truncate_utf8("abc", 10), "abc");
}
