#include "util/json_file.h"

#include "util/output_file.h"
#include "util/utf8.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace loadmatrix {

namespace {

// nlohmann reports a byte offset; people and editors want line:column.
std::pair<size_t, size_t> line_and_column(std::string_view text, size_t byte_offset) {
  size_t line = 1;
  size_t column = 1;
  for (size_t i = 0; i < text.size() && i + 1 < byte_offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

} // namespace

std::string json_type_name(const Json& value) {
  return value.type_name();
}

std::string dump_json(const Json& value, int indent) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

Expected<Json> parse_json(std::string_view text, const std::string& origin) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    auto [line, column] = line_and_column(text, e.byte);
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 2: "
    // prefix; we print our own position.
    if (auto colon = what.find(": "); colon != std::string::npos) {
      what = what.substr(colon + 2);
    }
    return Error{fmt::format("{}:{}:{}: invalid JSON: {}", origin, line, column, what)};
  }
}

Expected<Json> parse_foreign_json(std::string_view text, const std::string& origin) {
  if (is_valid_utf8(text)) {
    return parse_json(text, origin);
  }
  // Outside a string the line is broken anyway; inside one, "\\xNN" reads back as \xNN.
  std::string repaired;
  repaired.reserve(text.size() + 16);
  append_escaped_utf8(repaired, text, false, "\\\\x");
  return parse_json(repaired, origin);
}

std::optional<std::string> optional_string(const Json& object, std::string_view key) {
  if (!object.is_object()) {
    return std::nullopt;
  }
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return std::nullopt;
  }
  return it->get<std::string>();
}

Expected<std::string> read_text_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Error{fmt::format("{}: is a directory", path.string())};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error{fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno))};
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    return Error{fmt::format("{}: read failed", path.string())};
  }
  return buffer.str();
}

Expected<Json> read_json_file(const std::filesystem::path& path) {
  auto text = read_text_file(path);
  if (!text) {
    return text.error();
  }
  return parse_json(*text, path.string());
}

Expected<void> write_json_file(const std::filesystem::path& path, const Json& value) {
  // nlohmann::json keeps object keys sorted, so equal content gives equal bytes.
  return write_output_file(path, dump_json(value, 2) + "\n");
}

JsonFieldReader::JsonFieldReader(const Json& object, std::string origin, std::string path)
    : object_(object), origin_(std::move(origin)), path_(std::move(path)) {
  if (!object_.is_object()) {
    throw FatalError(fmt::format("{}: {}: expected an object, got {}", origin_,
                                 path_.empty() ? "top level" : path_, json_type_name(object_)));
  }
}

std::string JsonFieldReader::field_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void JsonFieldReader::fail(const std::string& key, const std::string& reason) const {
  throw FatalError(fmt::format("{}: {}: {}", origin_, field_path(key), reason));
}

bool JsonFieldReader::has(const std::string& key) const {
  return object_.contains(key);
}

const Json& JsonFieldReader::required(const std::string& key) const {
  if (!object_.contains(key)) {
    fail(key, "missing required field");
  }
  return object_.at(key);
}

std::string JsonFieldReader::required_string(const std::string& key) const {
  const Json& value = required(key);
  if (!value.is_string()) {
    fail(key, "expected a string, got " + json_type_name(value));
  }
  if (value.get_ref<const std::string&>().empty()) {
    fail(key, "must not be empty");
  }
  return value.get<std::string>();
}

std::string JsonFieldReader::optional_string(const std::string& key,
                                             const std::string& fallback) const {
  if (!object_.contains(key)) {
    return fallback;
  }
  return required_string(key);
}

std::vector<std::string> JsonFieldReader::optional_string_list(const std::string& key) const {
  std::vector<std::string> result;
  if (!object_.contains(key)) {
    return result;
  }
  const Json& value = object_.at(key);
  if (!value.is_array()) {
    fail(key, "expected an array of strings, got " + json_type_name(value));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_string()) {
      fail(fmt::format("{}[{}]", key, i), "expected a string, got " + json_type_name(value[i]));
    }
    result.push_back(value[i].get<std::string>());
  }
  return result;
}

void JsonFieldReader::reject_unknown_keys(std::initializer_list<std::string_view> known) const {
  for (const auto& [key, value] : object_.items()) {
    bool found = false;
    for (auto k : known) {
      found = found || k == key;
    }
    if (!found) {
      std::string expected;
      for (auto k : known) {
        expected += (expected.empty() ? "" : ", ") + std::string(k);
      }
      fail(key, "unknown field (expected one of: " + expected + ")");
    }
  }
}

} // namespace loadmatrix
