// Reading and writing the JSON files every stage exchanges. Reads name the file and the
// line:column of a syntax error; writes are atomic and sorted so outputs diff well.
#pragma once

#include "util/error.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace loadmatrix {

using Json = nlohmann::json;

// Writes all of `data` to `fd`, retrying short writes and EINTR; the error names `what`.
Expected<bool> write_all(int fd, std::string_view data, const std::string& what);

Expected<Json> parse_json(std::string_view text, const std::string& origin);
Expected<Json> read_json_file(const std::filesystem::path& path);
Expected<std::string> read_text_file(const std::filesystem::path& path);

// Writes to a temporary file beside `path`, fsyncs, then renames over it, so a reader sees
// the old file or the new one, never half of one.
Expected<bool> write_file_atomically(const std::filesystem::path& path, std::string_view data);
Expected<bool> write_json_file(const std::filesystem::path& path, const Json& value);

// Typed field access that names what is wrong: "matrix/default.json: envs[1].suite: expected
// a string, got number".
class JsonFieldReader {
public:
  JsonFieldReader(const Json& object, std::string origin, std::string path);

  std::string required_string(const std::string& key) const;
  std::string optional_string(const std::string& key, const std::string& fallback) const;
  std::vector<std::string> optional_string_list(const std::string& key) const;
  const Json& required(const std::string& key) const;
  bool has(const std::string& key) const;
  std::string field_path(const std::string& key) const;
  [[noreturn]] void fail(const std::string& key, const std::string& reason) const;
  // Rejects keys outside `known`, so a typo such as "sutie" is an error, not a silent default.
  void reject_unknown_keys(std::initializer_list<std::string_view> known) const;

private:
  const Json& object_;
  std::string origin_;
  std::string path_;
};

std::string json_type_name(const Json& value);

} // namespace loadmatrix
