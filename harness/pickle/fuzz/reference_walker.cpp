#include "pickle/fuzz/reference_walker.h"

#include "pickle/global_name.h"
#include "pickle/symbolic_value.h"

#include <algorithm>
#include <cstdint>
#include <fmt/core.h>
#include <map>
#include <optional>
#include <vector>

namespace loadmatrix {

namespace {

struct Failed {
  size_t offset;
  std::string what;
};

struct RefValue {
  enum class Kind { mark, string, global, object, tuple, other };
  Kind kind = Kind::other;
  size_t global = 0;   // global, object: the global's index
  std::string text;    // string: its bytes; tuple, object: its first item/argument when a string
                       // (or, for a tuple, a layout _get_layout made)
  size_t length = 0;   // tuple: its items
  int last_tuple = -1; // tuple: its last item's length, when that item is a tuple
};
using K = RefValue::Kind;

class ReferenceWalker {
public:
  ReferenceWalker(std::string_view bytes, const PickleLimits& limits)
      : bytes_(bytes), limits_(limits) {}

  PickleAnalysis walk() {
    for (;;) {
      opcode_offset_ = at_;
      if (opcodes_read_ == limits_.max_opcodes) {
        fail(fmt::format("more than {} opcodes", limits_.max_opcodes));
      }
      ++opcodes_read_;
      uint8_t opcode = read_u8();
      result_.opcodes_used.try_emplace(opcode, opcode_offset_);
      if (opcode == '.') { // STOP
        result_.end_offset = at_;
        return result_;
      }
      step(opcode);
    }
  }

private:
  // Longer than 80 lines on purpose: one case per opcode, in one place, so a reader can check
  // each against pickletools' documentation; sharing the fast walker's table or handlers would
  // share their mistakes.
  void step(uint8_t opcode) {
    switch (opcode) {
    case '(': // MARK
      if (marks_ >= limits_.max_marks) {
        fail(fmt::format("MARKs nested deeper than {}", limits_.max_marks));
      }
      ++marks_;
      push({K::mark, 0, ""});
      return;
    case '0': // POP, of a value or of a MARK
      if (!stack_.empty() && stack_.back().kind == K::mark) {
        pop_mark();
      } else {
        pop();
      }
      return;
    case '1': // POP_MARK
      pop_mark();
      return;
    case '2': // DUP
      push(top());
      return;
    case 'F': // FLOAT
    case 'I': // INT
    case 'L': // LONG
      read_line();
      push({});
      return;
    case 'N':  // NONE
    case ')':  // EMPTY_TUPLE
    case ']':  // EMPTY_LIST
    case '}':  // EMPTY_DICT
    case 0x88: // NEWTRUE
    case 0x89: // NEWFALSE
    case 0x8f: // EMPTY_SET
      push({});
      return;
    case 'G': // BINFLOAT
      read_bytes(8);
      push({});
      return;
    case 'J': // BININT
      read_bytes(4);
      push({});
      return;
    case 'K': // BININT1
      read_bytes(1);
      push({});
      return;
    case 'M': // BININT2
      read_bytes(2);
      push({});
      return;
    case 0x8a: // LONG1
    case 'C':  // SHORT_BINBYTES
      read_bytes(read_u8());
      push({});
      return;
    case 0x8b: // LONG4
    case 'B':  // BINBYTES
      read_bytes(read_le(4));
      push({});
      return;
    case 0x8e: // BINBYTES8
    case 0x96: // BYTEARRAY8
      read_bytes(read_le(8));
      push({});
      return;
    case 'S': // STRING
    case 'V': // UNICODE
      push_string(read_line());
      return;
    case 'U':  // SHORT_BINSTRING
    case 0x8c: // SHORT_BINUNICODE
      push_string(read_bytes(read_u8()));
      return;
    case 'T': // BINSTRING
    case 'X': // BINUNICODE
      push_string(read_bytes(read_le(4)));
      return;
    case 0x8d: // BINUNICODE8
      push_string(read_bytes(read_le(8)));
      return;
    case 0x97: // NEXT_BUFFER
      result_.out_of_band_buffers = true;
      push({});
      return;
    case 0x98: // READONLY_BUFFER
      top();
      return;
    case 'l':  // LIST
    case 'd':  // DICT
    case 0x91: // FROZENSET
      pop_mark();
      push({});
      return;
    case 't': { // TUPLE
      push(tuple_of(pop_mark_items()));
      return;
    }
    case 0x85:   // TUPLE1
    case 0x86:   // TUPLE2
    case 0x87: { // TUPLE3
      std::vector<RefValue> items;
      for (int i = 0; i <= opcode - 0x85; ++i) {
        items.insert(items.begin(), pop());
      }
      push(tuple_of(items));
      return;
    }
    case 'a': // APPEND
      pop();
      note_target(UseKind::append);
      return;
    case 'e': // APPENDS
      pop_mark();
      note_target(UseKind::append);
      return;
    case 's': // SETITEM
      pop();
      pop();
      note_target(UseKind::setitem);
      return;
    case 'u': // SETITEMS
      pop_mark();
      note_target(UseKind::setitem);
      return;
    case 0x90: // ADDITEMS
      pop_mark();
      top();
      return;
    case 'c': { // GLOBAL
      std::string module(read_line());
      std::string name(read_line());
      push(name_global(global_name(module, name), UseKind::referenced));
      return;
    }
    case 0x93: { // STACK_GLOBAL
      RefValue name = pop();
      RefValue module = pop();
      if (name.kind != K::string || module.kind != K::string) {
        fail("STACK_GLOBAL needs two strings");
      }
      push(name_global(global_name(module.text, name.text), UseKind::referenced));
      return;
    }
    case 0x82: // EXT1
      push(name_global(extension_global_name(read_le(1)), UseKind::referenced));
      return;
    case 0x83: // EXT2
      push(name_global(extension_global_name(read_le(2)), UseKind::referenced));
      return;
    case 0x84: // EXT4
      push(name_global(extension_global_name(read_le(4)), UseKind::referenced));
      return;
    case 'R': { // REDUCE
      RefValue args = pop();
      RefValue callable = pop();
      if (callable.kind == K::global && callable.global == rebuild_sparse_ &&
          args.kind == K::tuple && args.length == 2 && args.last_tuple >= 0 && !args.text.empty()) {
        result_.sparse_rebuilds.push_back(
            {args.text, static_cast<size_t>(args.last_tuple), opcode_offset_});
      }
      call(callable, UseKind::reduce, args);
      return;
    }
    case 0x81: { // NEWOBJ
      pop();
      RefValue cls = pop();
      call(cls, UseKind::newobj, {});
      return;
    }
    case 0x92: { // NEWOBJ_EX
      pop();
      pop();
      RefValue cls = pop();
      call(cls, UseKind::newobj_ex, {});
      return;
    }
    case 'i': { // INST
      std::string module(read_line());
      std::string name(read_line());
      pop_mark();
      RefValue global = name_global(global_name(module, name), UseKind::inst);
      push({K::object, global.global, ""});
      return;
    }
    case 'o': { // OBJ
      std::optional<RefValue> cls = pop_mark();
      if (!cls) {
        fail("OBJ without a class");
      }
      call(*cls, UseKind::obj, {});
      return;
    }
    case 'b': { // BUILD
      pop();
      const RefValue& object = top();
      if (object.kind == K::object || object.kind == K::global) {
        note_use(object.global, UseKind::build);
      }
      if (object.kind == K::object && object.global == numpy_dtype_ && !object.text.empty()) {
        result_.numpy_dtype_builds.push_back({object.text, opcode_offset_});
      }
      return;
    }
    case 'P': // PERSID
      read_line();
      result_.persistent_ids = true;
      push({});
      return;
    case 'Q': // BINPERSID
      pop();
      result_.persistent_ids = true;
      push({});
      return;
    case 'p': // PUT
      memo_put(decimal(read_line()));
      return;
    case 'q': // BINPUT
      memo_put(read_u8());
      return;
    case 'r': // LONG_BINPUT
      memo_put(read_le(4));
      return;
    case 0x94: // MEMOIZE
      memo_put(memo_.size());
      return;
    case 'g': // GET
      memo_get(decimal(read_line()));
      return;
    case 'h': // BINGET
      memo_get(read_u8());
      return;
    case 'j': // LONG_BINGET
      memo_get(read_le(4));
      return;
    case 0x80: // PROTO
      result_.protocol = read_u8();
      if (result_.protocol > 5) {
        fail(fmt::format("unsupported pickle protocol {}", result_.protocol));
      }
      return;
    case 0x95: // FRAME
      read_bytes(8);
      return;
    default:
      fail(fmt::format("unknown opcode 0x{:02x}", opcode));
    }
  }

  [[noreturn]] void fail(std::string what) const { throw Failed{opcode_offset_, std::move(what)}; }

  std::string_view read_bytes(uint64_t count) {
    uint64_t left = bytes_.size() - at_;
    if (count > left) {
      throw Failed{at_, fmt::format("needs {} bytes, {} left", count, left)};
    }
    std::string_view out = bytes_.substr(at_, count);
    at_ += count;
    return out;
  }
  uint8_t read_u8() { return static_cast<uint8_t>(read_bytes(1)[0]); }
  uint64_t read_le(size_t width) {
    std::string_view raw = read_bytes(width);
    uint64_t value = 0;
    for (size_t i = width; i-- > 0;) {
      value = value << 8 | static_cast<uint8_t>(raw[i]);
    }
    return value;
  }
  std::string_view read_line() {
    size_t newline = bytes_.find('\n', at_);
    if (newline == std::string_view::npos) {
      throw Failed{at_, "unterminated line argument"};
    }
    std::string_view out = bytes_.substr(at_, newline - at_);
    at_ = newline + 1;
    return out;
  }
  uint64_t decimal(std::string_view text) const {
    bool digits =
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (text.empty() || text.size() > 18 || !digits) {
      fail("bad decimal argument");
    }
    return std::stoull(std::string(text));
  }

  void push(RefValue value) {
    size_t max_stack = std::min<size_t>(limits_.max_stack, UINT32_MAX);
    if (stack_.size() >= max_stack) {
      fail(fmt::format("stack deeper than {}", max_stack));
    }
    stack_.push_back(std::move(value));
  }
  RefValue& top() {
    if (stack_.empty() || stack_.back().kind == K::mark) {
      fail("stack underflow");
    }
    return stack_.back();
  }
  RefValue pop() {
    RefValue value = top();
    stack_.pop_back();
    return value;
  }
  // Removes the topmost MARK and what is above it; returns the first item above it, if any.
  std::vector<RefValue> pop_mark_items() {
    auto mark = std::find_if(stack_.rbegin(), stack_.rend(),
                             [](const RefValue& value) { return value.kind == K::mark; });
    if (mark == stack_.rend()) {
      fail("no MARK to pop to");
    }
    auto at = mark.base() - 1;
    std::vector<RefValue> items(at + 1, stack_.end());
    stack_.erase(at, stack_.end());
    --marks_;
    return items;
  }
  std::optional<RefValue> pop_mark() {
    std::vector<RefValue> items = pop_mark_items();
    if (items.empty()) {
      return std::nullopt;
    }
    return items.front();
  }

  void push_string(std::string_view text) {
    auto offset = static_cast<uint64_t>(text.data() - bytes_.data());
    if (text.size() <= SymbolicValue::kMaxText && offset <= UINT32_MAX) {
      push({K::string, 0, std::string(text)});
    } else {
      push({});
    }
  }
  // Lengths are kept up to 255, as the fast walker's one-word values keep them.
  RefValue tuple_of(const std::vector<RefValue>& items) const {
    RefValue tuple{K::tuple, 0, "", std::min<size_t>(items.size(), 255), -1};
    if (!items.empty()) {
      const RefValue& first = items.front();
      if (first.kind == K::string || (first.kind == K::object && first.global == get_layout_)) {
        tuple.text = first.text;
      }
      if (items.back().kind == K::tuple) {
        tuple.last_tuple = static_cast<int>(std::min<size_t>(items.back().length + 1, 255)) - 1;
      }
    }
    return tuple;
  }

  RefValue name_global(const GlobalName& global, UseKind use) {
    auto it = index_.find(global.name);
    if (it == index_.end()) {
      size_t max_globals = std::min<size_t>(limits_.max_globals, SymbolicValue::kMaxGlobals);
      if (result_.globals.size() >= max_globals) {
        fail(fmt::format("more than {} distinct globals", max_globals));
      }
      it = index_.emplace(global.name, result_.globals.size()).first;
      result_.globals.push_back({global.name, global.raw, global.module, {}, opcode_offset_});
      if (global.name == "numpy.dtype") {
        numpy_dtype_ = it->second;
      } else if (global.name == "torch.serialization._get_layout") {
        get_layout_ = it->second;
      } else if (global.name == "torch._utils._rebuild_sparse_tensor") {
        rebuild_sparse_ = it->second;
      }
    }
    note_use(it->second, use);
    return {K::global, it->second, ""};
  }
  void note_use(size_t global, UseKind use) {
    result_.globals[global].uses.try_emplace(use, opcode_offset_);
  }
  void note_target(UseKind use) {
    const RefValue& target = top();
    if (target.kind == K::object) {
      note_use(target.global, use);
    }
  }
  // REDUCE, NEWOBJ, NEWOBJ_EX, OBJ: a call of `callable`, which makes an object of it when it is
  // a global, remembered with a tuple argument's first string.
  void call(const RefValue& callable, UseKind use, const RefValue& args) {
    if (callable.kind != K::global) {
      push({});
      return;
    }
    note_use(callable.global, use);
    push({K::object, callable.global, args.kind == K::tuple ? args.text : ""});
  }

  void memo_put(uint64_t key) {
    if (!memo_.contains(key) && memo_.size() >= limits_.max_memo) {
      fail(fmt::format("memo larger than {}", limits_.max_memo));
    }
    memo_[key] = top();
  }
  void memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) {
      fail(fmt::format("memo key {} was never stored", key));
    }
    push(it->second);
  }

  std::string_view bytes_;
  PickleLimits limits_;
  size_t at_ = 0;
  size_t opcode_offset_ = 0;
  size_t opcodes_read_ = 0;
  size_t marks_ = 0;
  std::vector<RefValue> stack_;
  std::map<uint64_t, RefValue> memo_;
  std::map<std::string, size_t> index_;
  std::optional<size_t> numpy_dtype_;
  std::optional<size_t> get_layout_;
  std::optional<size_t> rebuild_sparse_;
  PickleAnalysis result_;
};

} // namespace

Expected<PickleAnalysis> reference_analyze_pickle(std::string_view bytes,
                                                  const PickleLimits& limits) {
  try {
    return ReferenceWalker(bytes, limits).walk();
  } catch (const Failed& failed) {
    return Error{fmt::format("offset {}: {}", failed.offset, failed.what)};
  }
}

std::string analysis_difference(const Expected<PickleAnalysis>& fast,
                                const Expected<PickleAnalysis>& reference) {
  if (!fast || !reference) {
    std::string a = fast ? "ok" : "error: " + fast.error().message;
    std::string b = reference ? "ok" : "error: " + reference.error().message;
    return a == b ? "" : fmt::format("fast walker: {}; reference: {}", a, b);
  }
  const PickleAnalysis& x = *fast;
  const PickleAnalysis& y = *reference;
  if (x.protocol != y.protocol || x.end_offset != y.end_offset ||
      x.persistent_ids != y.persistent_ids || x.out_of_band_buffers != y.out_of_band_buffers) {
    return fmt::format("protocol {}/{}, end {}/{}, persistent ids {}/{}, buffers {}/{}", x.protocol,
                       y.protocol, x.end_offset, y.end_offset, x.persistent_ids, y.persistent_ids,
                       x.out_of_band_buffers, y.out_of_band_buffers);
  }
  if (x.opcodes_used != y.opcodes_used) {
    return "opcodes_used differ";
  }
  if (x.numpy_dtype_builds.size() != y.numpy_dtype_builds.size()) {
    return "numpy_dtype_builds differ in number";
  }
  for (size_t i = 0; i < x.numpy_dtype_builds.size(); ++i) {
    if (x.numpy_dtype_builds[i].code != y.numpy_dtype_builds[i].code ||
        x.numpy_dtype_builds[i].offset != y.numpy_dtype_builds[i].offset) {
      return fmt::format("numpy_dtype_builds[{}] differ", i);
    }
  }
  if (x.sparse_rebuilds.size() != y.sparse_rebuilds.size()) {
    return "sparse_rebuilds differ in number";
  }
  for (size_t i = 0; i < x.sparse_rebuilds.size(); ++i) {
    if (x.sparse_rebuilds[i].layout != y.sparse_rebuilds[i].layout ||
        x.sparse_rebuilds[i].fields != y.sparse_rebuilds[i].fields ||
        x.sparse_rebuilds[i].offset != y.sparse_rebuilds[i].offset) {
      return fmt::format("sparse_rebuilds[{}] differ", i);
    }
  }
  if (x.globals.size() != y.globals.size()) {
    return fmt::format("{} globals vs {}", x.globals.size(), y.globals.size());
  }
  for (size_t i = 0; i < x.globals.size(); ++i) {
    const GlobalUse& a = x.globals[i];
    const GlobalUse& b = y.globals[i];
    if (a.name != b.name || a.raw_name != b.raw_name || a.module != b.module ||
        a.first_offset != b.first_offset || a.uses != b.uses) {
      return fmt::format("global {} ({} vs {}) differs", i, a.name, b.name);
    }
  }
  return "";
}

} // namespace loadmatrix
