// Reading and writing the JSON files every stage exchanges. Reads name the file and the
// line:column of a syntax error; writes go through util/output_file.h, keys sorted so outputs
// diff well.
#pragma once

#include "util/error.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace loadmatrix {

using Json = nlohmann::json;

// The one place JSON becomes text. Strings are made valid UTF-8 where they enter (util/utf8.h);
// should one slip through, it is written with U+FFFD for the bad bytes instead of throwing
// (nlohmann's type_error.316), so one stray name never ends a job or loses its results.
std::string dump_json(const Json& value, int indent = -1);

Expected<Json> parse_json(std::string_view text, const std::string& origin);
// JSON printed by a process we do not control (a probe, an env's fingerprint, a worker): raw
// invalid UTF-8 inside one of its strings would make the whole line unreadable, so each such
// byte is read as the text \xNN (util/utf8.h's policy) and the rest of the line still counts.
Expected<Json> parse_foreign_json(std::string_view text, const std::string& origin);
Expected<Json> read_json_file(const std::filesystem::path& path);
Expected<std::string> read_text_file(const std::filesystem::path& path);

// A string field of JSON from outside (a worker's reply, a fingerprint, a results.json): its
// value when `key` holds a string, else nothing; another type is never thrown at.
std::optional<std::string> optional_string(const Json& object, std::string_view key);

// Through write_output_file (util/output_file.h): atomic for a regular file, never a rename
// over a device, FIFO or symlink.
Expected<void> write_json_file(const std::filesystem::path& path, const Json& value);

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
