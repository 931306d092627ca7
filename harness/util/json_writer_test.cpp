// JsonWriter must print exactly what nlohmann's dump(2) prints for the same document.
#include "util/json_file.h"
#include "util/json_writer.h"

#include <gtest/gtest.h>
#include <limits>

using namespace loadmatrix;

namespace {

// Writes `value` (whose object keys JsonWriter gets in dump's sorted order) with JsonWriter.
void write(JsonWriter& out, const Json& value) {
  if (value.is_object()) {
    out.begin_object();
    for (const auto& [key, item] : value.items()) {
      out.key(key);
      write(out, item);
    }
    out.end_object();
  } else if (value.is_array()) {
    out.begin_array();
    for (const auto& item : value) {
      write(out, item);
    }
    out.end_array();
  } else if (value.is_string()) {
    out.value(value.get<std::string>());
  } else if (value.is_boolean()) {
    out.value(value.get<bool>());
  } else if (value.is_number_unsigned()) {
    out.value(value.get<uint64_t>());
  } else if (value.is_number_integer()) {
    out.value(value.get<int64_t>());
  } else {
    out.null();
  }
}

std::string written(const Json& value, size_t indent = 0) {
  JsonWriter out(indent);
  write(out, value);
  return out.take();
}

} // namespace

TEST(JsonWriterTest, PrintsWhatDumpPrints) {
  std::string every_control;
  for (int c = 0; c < 0x20; ++c) {
    every_control += static_cast<char>(c);
  }
  Json document = {
      {"empty_object", Json::object()},
      {"empty_array", Json::array()},
      {"nested", {{"a", Json::array({1, -2, Json::array(), Json::object(), nullptr})}}},
      {"controls", every_control},
      {"quotes", "say \"hi\" \\ back\\slash / and \x7f"},
      {"utf8", "caf\xc3\xa9 \xe2\x82\xac"},
      {"numbers",
       Json::array({0, std::numeric_limits<int64_t>::min(), std::numeric_limits<uint64_t>::max()})},
      {"flags", Json::array({true, false})},
      {"", "an empty key"}};
  EXPECT_EQ(written(document), document.dump(2));
  EXPECT_EQ(written(Json::array()), "[]");
  EXPECT_EQ(written("plain"), "\"plain\"");
}

TEST(JsonWriterTest, NestedTextIsIndentedAsInsideItsDocument) {
  Json item = {{"k", Json::array({"v", Json::object({{"x", 1}})})}};
  Json document = Json::array({item});
  // The item as dump(2) prints it inside the array: its lines after the first, 2 deeper.
  std::string expected = document.dump(2);
  EXPECT_EQ("[\n  " + written(item, 2) + "\n]", expected);
}

// Names are made valid where they enter; a byte that slips through must not end the scan.
TEST(JsonWriterTest, InvalidUtf8IsWrittenAsReplacementCharactersNotThrown) {
  JsonWriter out(0);
  out.begin_array();
  out.value("kept");
  out.value(std::string_view("bad \xff byte"));
  EXPECT_EQ(out.take(), "[\n  \"kept\",\n  \"bad \xef\xbf\xbd byte\""); // U+FFFD
}

TEST(JsonWriterTest, DeepNestingAndLongTextGrowTheBuffer) {
  Json document = "innermost " + std::string(5000, 'x');
  for (int depth = 0; depth < 300; ++depth) {
    document = depth % 2 ? Json::array({document, depth}) : Json{{"level", document}};
  }
  EXPECT_EQ(written(document), document.dump(2));
}

TEST(JsonWriterTest, TextGivenFirstComesBeforeTheValue) {
  JsonWriter out(4, ",\n    ");
  out.begin_object();
  out.field("n", 1);
  out.end_object();
  EXPECT_EQ(out.take(), ",\n    {\n      \"n\": 1\n    }");
}

TEST(JsonWriterTest, ClearedWriterWritesAFreshDocument) {
  JsonWriter out(2);
  out.begin_array();
  out.value("left open"); // the array is never ended
  out.clear();
  out.begin_object();
  out.field("k", true);
  out.end_object();
  EXPECT_EQ(out.text(), "{\n    \"k\": true\n  }");
}
