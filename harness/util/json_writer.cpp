#include "util/json_writer.h"

#include "util/json_file.h"

#include <fmt/format.h>

namespace loadmatrix {

void JsonWriter::open(char bracket) {
  before_value();
  out_ += bracket;
  empty_.push_back(true);
}

void JsonWriter::close(char bracket) {
  bool empty = empty_.back();
  empty_.pop_back();
  if (!empty) {
    out_ += '\n';
    out_.append(indent_ + 2 * empty_.size(), ' ');
  }
  out_ += bracket;
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (empty_.empty()) {
    return; // the top-level value
  }
  out_ += empty_.back() ? "\n" : ",\n";
  empty_.back() = false;
  out_.append(indent_ + 2 * empty_.size(), ' ');
}

void JsonWriter::key(std::string_view name) {
  before_value();
  string(name);
  out_ += ": ";
  after_key_ = true;
}

void JsonWriter::value(std::string_view text) {
  before_value();
  string(text);
}

void JsonWriter::value(bool flag) {
  before_value();
  out_ += flag ? "true" : "false";
}

void JsonWriter::value(int64_t number) {
  before_value();
  fmt::format_to(std::back_inserter(out_), "{}", number);
}

void JsonWriter::value(uint64_t number) {
  before_value();
  fmt::format_to(std::back_inserter(out_), "{}", number);
}

void JsonWriter::null() {
  before_value();
  out_ += "null";
}

void JsonWriter::value(const std::vector<std::string>& texts) {
  begin_array();
  for (const auto& text : texts) {
    value(text);
  }
  end_array();
}

void JsonWriter::string(std::string_view text) {
  size_t start = out_.size();
  out_ += '"';
  size_t plain = 0; // where the run of characters copied as they are starts
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      continue;
    }
    if (c >= 0x80) {
      // Text past ASCII is printed by nlohmann itself, which also refuses invalid UTF-8 as it
      // always did; ASCII, nearly all of it, is escaped here as dump escapes it.
      out_.resize(start);
      out_ += Json(std::string(text)).dump();
      return;
    }
    out_.append(text.substr(plain, i - plain));
    plain = i + 1;
    switch (c) {
    case '"':
      out_ += "\\\"";
      break;
    case '\\':
      out_ += "\\\\";
      break;
    case '\b':
      out_ += "\\b";
      break;
    case '\f':
      out_ += "\\f";
      break;
    case '\n':
      out_ += "\\n";
      break;
    case '\r':
      out_ += "\\r";
      break;
    case '\t':
      out_ += "\\t";
      break;
    default:
      fmt::format_to(std::back_inserter(out_), "\\u{:04x}", static_cast<unsigned>(c));
    }
  }
  out_.append(text.substr(plain));
  out_ += '"';
}

} // namespace loadmatrix
