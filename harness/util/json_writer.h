// JSON text written as it is produced, exactly as nlohmann::json's dump(2) prints the same
// document, with no tree in between. scan.json has a few kilobytes per file; building each
// file's object tree, printing it and freeing it cost five times the static pass over it.
// The caller writes each object's keys in sorted order, which is dump's order (its objects are
// std::maps); scan_result_test checks the text against dump(2) of itself.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

class JsonWriter {
public:
  // `indent` is how deep the first value sits (dump(2) of a value nested in a document is that
  // value's text with every line after the first indented); `text` is what comes before it.
  explicit JsonWriter(size_t indent, std::string text = {});
  // It writes through pointers into its own buffer, which a copy would not own.
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  // The text written so far; the writer is left empty.
  std::string take();
  // The text written so far, valid until the next write.
  std::string_view text() const { return {text_.data(), used()}; }
  // Empty again, to write another document into the same buffer.
  void clear();
  // Text put as it is, between top-level values (a separator, when the caller writes a run of
  // values that go into an array of its own).
  void raw(std::string_view text) { put(text); }

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  // An object's key; its value follows.
  void key(std::string_view name);

  void value(std::string_view text);
  void value(const char* text) { value(std::string_view(text)); }
  void value(bool flag);
  void value(int64_t number);
  void value(uint64_t number);
  void value(int number) { value(static_cast<int64_t>(number)); }
  void null();
  void value(const std::vector<std::string>& texts); // an array of strings
  // key(name) and then value(v).
  template <typename T> void field(std::string_view name, const T& v) {
    key(name);
    value(v);
  }

private:
  // The text is written through a cursor into a buffer kept at its capacity: a few kilobytes
  // per file arrive in hundreds of pieces of a few bytes, and std::string's out-of-line append
  // per piece cost more than the bytes.
  char* room(size_t bytes) {
    if (static_cast<size_t>(end_ - at_) < bytes) {
      grow(bytes);
    }
    return at_;
  }
  void put(char c) {
    *room(1) = c;
    ++at_;
  }
  void put(std::string_view text) {
    std::memcpy(room(text.size()), text.data(), text.size());
    at_ += text.size();
  }
  void grow(size_t bytes);
  size_t used() const { return static_cast<size_t>(at_ - text_.data()); }

  void open(char bracket);
  void close(char bracket);
  void before_value();         // the separator and indent an array item needs
  void new_line(size_t depth); // a line break and the indent of `depth` open containers
  void string(std::string_view text);

  std::string text_;
  char* at_;
  char* end_;
  size_t indent_;
  std::vector<uint8_t> empty_; // per open container: nothing written in it yet
  bool after_key_ = false;
};

} // namespace loadmatrix
