#include "testing/test_envs.h"
#include "util/json_file.h"

#include <fstream>
#include <gtest/gtest.h>

using namespace loadmatrix;

TEST(JsonFileTest, ParseErrorNamesFileLineAndColumn) {
  auto parsed = parse_json("{\n  \"a\": 1,\n  \"b\": ]\n}", "m.json");
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().message.rfind("m.json:3:8: invalid JSON", 0), 0u)
      << parsed.error().message;
}

TEST(JsonFileTest, MissingFileErrorNamesThePath) {
  auto read = read_json_file("/nonexistent/loadmatrix.json");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().message,
            "/nonexistent/loadmatrix.json: cannot open: No such file or directory");
}

TEST(JsonFileTest, AtomicWriteReplacesTheWholeFileAndLeavesNoTemporary) {
  test_support::TempDir dir;
  auto path = dir.path() / "out.json";
  ASSERT_TRUE(write_json_file(path, Json{{"b", 1}, {"a", 2}}));
  ASSERT_TRUE(write_json_file(path, Json{{"c", 3}}));
  EXPECT_EQ(read_text_file(path).value(), "{\n  \"c\": 3\n}\n");
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(JsonFileTest, FieldReaderNamesFieldAndReason) {
  Json object = {{"name", 3}};
  JsonFieldReader reader(object, "x.json", "envs[2]");
  try {
    reader.required_string("name");
    FAIL() << "expected an error";
  } catch (const FatalError& e) {
    EXPECT_STREQ(e.what(), "x.json: envs[2].name: expected a string, got number");
  }
}

TEST(JsonFileTest, ForeignJsonWithRawInvalidBytesIsReadWithThemEscaped) {
  auto parsed = parse_foreign_json("{\"message\": \"got x\xed\xb3\xbf and \xff\"}", "probe");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->at("message"), "got x\\xed\\xb3\\xbf and \\xff");
  EXPECT_FALSE(parse_foreign_json("{\"a\": \xff}", "probe")); // outside a string: still broken
}

TEST(JsonFileTest, AnOptionalStringOfForeignJsonIsTheStringOrNothingNeverAThrow) {
  Json value = {{"name", "sid"}, {"line", 12}, {"none", nullptr}};
  EXPECT_EQ(optional_string(value, "name"), "sid");
  EXPECT_FALSE(optional_string(value, "line"));
  EXPECT_FALSE(optional_string(value, "none"));
  EXPECT_FALSE(optional_string(value, "missing"));
  EXPECT_FALSE(optional_string(Json::array(), "name"));
}
