// JSON text written as it is produced, exactly as nlohmann::json's dump(2) prints the same
// document, with no tree in between. scan.json has a few kilobytes per file; building each
// file's object tree, printing it and freeing it cost five times the static pass over it.
// The caller writes each object's keys in sorted order, which is dump's order (its objects are
// std::maps); scan_result_test checks the text against dump(2) of itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

class JsonWriter {
public:
  // Appends to `out`; `indent` is how deep the first value sits (dump(2) of a value nested in
  // a document is that value's text with every line after the first indented).
  JsonWriter(std::string& out, size_t indent) : out_(out), indent_(indent) {}

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
  void open(char bracket);
  void close(char bracket);
  void before_value(); // the separator and indent an array item needs
  void string(std::string_view text);

  std::string& out_;
  size_t indent_;
  std::vector<bool> empty_; // per open container: nothing written in it yet
  bool after_key_ = false;
};

} // namespace loadmatrix
