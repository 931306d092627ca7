#include "util/json_writer.h"

#include "util/json_file.h"

#include <algorithm>
#include <array>
#include <fmt/format.h>

namespace loadmatrix {

namespace {

// The characters a JSON string holds as they are: printable ASCII but the quote and backslash.
constexpr auto kPlain = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x80; ++c) {
    plain[static_cast<size_t>(c)] = c != '"' && c != '\\';
  }
  return plain;
}();

} // namespace

JsonWriter::JsonWriter(size_t indent, std::string text) : text_(std::move(text)), indent_(indent) {
  size_t start = text_.size();
  text_.resize(std::max<size_t>(text_.capacity(), start + 256));
  at_ = text_.data() + start;
  end_ = text_.data() + text_.size();
  empty_.reserve(16);
}

std::string JsonWriter::take() {
  text_.resize(used());
  std::string taken = std::move(text_);
  text_.clear();
  at_ = end_ = text_.data();
  return taken;
}

void JsonWriter::clear() {
  at_ = text_.data();
  empty_.clear();
  after_key_ = false;
}

void JsonWriter::grow(size_t bytes) {
  size_t at = used();
  text_.resize(std::max(text_.size() * 2, at + bytes));
  at_ = text_.data() + at;
  end_ = text_.data() + text_.size();
}

void JsonWriter::new_line(size_t depth) {
  size_t spaces = indent_ + 2 * depth;
  char* line = room(1 + spaces);
  line[0] = '\n';
  std::memset(line + 1, ' ', spaces);
  at_ += 1 + spaces;
}

void JsonWriter::open(char bracket) {
  before_value();
  put(bracket);
  empty_.push_back(true);
}

void JsonWriter::close(char bracket) {
  bool empty = empty_.back();
  empty_.pop_back();
  if (!empty) {
    new_line(empty_.size());
  }
  put(bracket);
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (empty_.empty()) {
    return; // the top-level value
  }
  if (!empty_.back()) {
    put(',');
  }
  empty_.back() = false;
  new_line(empty_.size());
}

void JsonWriter::key(std::string_view name) {
  before_value();
  string(name);
  char* separator = room(2);
  separator[0] = ':';
  separator[1] = ' ';
  at_ += 2;
  after_key_ = true;
}

void JsonWriter::value(std::string_view text) {
  before_value();
  string(text);
}

void JsonWriter::value(bool flag) {
  before_value();
  put(flag ? std::string_view("true") : std::string_view("false"));
}

void JsonWriter::value(int64_t number) {
  before_value();
  fmt::format_int digits(number);
  put(std::string_view(digits.data(), digits.size()));
}

void JsonWriter::value(uint64_t number) {
  before_value();
  fmt::format_int digits(number);
  put(std::string_view(digits.data(), digits.size()));
}

void JsonWriter::null() {
  before_value();
  put("null");
}

void JsonWriter::value(const std::vector<std::string>& texts) {
  begin_array();
  for (const auto& text : texts) {
    value(text);
  }
  end_array();
}

void JsonWriter::string(std::string_view text) {
  size_t start = used();
  put('"');
  size_t plain = 0; // where the run of characters copied as they are starts
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (kPlain[c]) {
      continue;
    }
    if (c >= 0x80) {
      // Text past ASCII is printed by nlohmann itself (dump_json: invalid UTF-8 as U+FFFD);
      // ASCII, nearly all of it, is escaped here as dump escapes it.
      at_ = text_.data() + start;
      put(dump_json(Json(std::string(text))));
      return;
    }
    put(text.substr(plain, i - plain));
    plain = i + 1;
    switch (c) {
    case '"':
      put("\\\"");
      break;
    case '\\':
      put("\\\\");
      break;
    case '\b':
      put("\\b");
      break;
    case '\f':
      put("\\f");
      break;
    case '\n':
      put("\\n");
      break;
    case '\r':
      put("\\r");
      break;
    case '\t':
      put("\\t");
      break;
    default:
      put(fmt::format("\\u{:04x}", static_cast<unsigned>(c)));
    }
  }
  put(text.substr(plain));
  put('"');
}

} // namespace loadmatrix
