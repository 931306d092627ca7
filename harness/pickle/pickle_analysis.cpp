#include "pickle/pickle_analysis.h"

#include "pickle/byte_cursor.h"
#include "pickle/global_name.h"
#include "pickle/pickle_opcodes.h"
#include "pickle/symbolic_value.h"
#include "pickle/walk_memory.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fmt/core.h>
#include <unordered_map>

namespace loadmatrix {

namespace {

using Value = SymbolicValue;
using Kind = SymbolicValue::Kind;

constexpr std::array<const char*, static_cast<size_t>(UseKind::count)> kUseNames = {
    "APPEND", "BUILD", "INST", "NEWOBJ", "NEWOBJ_EX", "OBJ", "REDUCE", "SETITEM", "referenced"};

constexpr size_t kUnused = ~size_t{0}; // a first-use offset not yet seen
constexpr uint8_t kStop = '.';

// What every opcode reads and writes. walk() keeps it in a local and passes it by reference to
// handlers that are inlined into it, so the compiler holds it in registers; kept in Walker's
// members, any store of a value to the stack might alias it, and each opcode paid a store and a
// reload (bench/README.md).
struct WalkState {
  ByteCursor in;
  Value* stack; // the stack is stack[0, depth); stack[0, capacity) is allocated
  uint32_t depth = 0;
  uint32_t capacity;
  uint32_t* marks; // the stack positions of the MARKs on it, marks[0, mark_count)
  uint32_t mark_count = 0;
  uint32_t mark_capacity;
  Value* memo;            // the dense memo, memo[0, DenseMemo::kEntries)
  uint64_t memo_used = 0; // one past the highest dense key stored: what to clear afterwards
  size_t memo_count = 0;  // distinct keys stored, dense and sparse
  size_t opcodes_left;    // the opcode budget, counted only by walk<true>
};

// Walks one pickle symbolically, as pickletools.genops reads it, keeping for each stack slot only
// what SymbolicValue can say. Every opcode has a handler below, named in pickle_opcodes.h and
// grouped by what it does.
class Walker {
public:
  // Takes `memory`'s buffers for the walk and gives them back, memo cleared, when done.
  Walker(std::string_view bytes, const PickleLimits& limits, WalkMemory& memory)
      : bytes_(bytes), limits_(limits), memory_(memory), stack_(std::move(memory.stack)),
        marks_(std::move(memory.marks)), memo_dense_(memory.memo_dense),
        memo_sparse_(std::move(memory.memo_sparse)) {
    // A 32-bit depth bounds the stack.
    limits_.max_stack = std::min<size_t>(limits_.max_stack, UINT32_MAX);
    stack_.resize(std::min<size_t>(std::max<size_t>(stack_.size(), 64), limits_.max_stack));
    opcode_at_ = bytes_.data();
  }
  Walker(const Walker&) = delete;
  Walker& operator=(const Walker&) = delete;
  ~Walker();

  // Each opcode takes at least its own byte, so a pickle shorter than the opcode budget cannot
  // exceed it: only one at least as long is walked counting opcodes.
  PickleAnalysis run() {
    return bytes_.size() >= limits_.max_opcodes ? walk<true>() : walk<false>();
  }

private:
  // Threaded dispatch, generated from pickle_opcodes.h: each opcode has a label that runs its
  // handler and then jumps straight to the next opcode's label. A loop around one `switch` has a
  // single shared jump, which the branch predictor cannot learn torch's repeating opcode pattern
  // on; it made the walk 1.5x slower (bench/README.md, "The pickle walker").
  // `flatten` inlines every handler, so no call takes WalkState's address and it stays in
  // registers; the rare, large helpers are noinline and do not take it.
  template <bool Budgeted> [[gnu::flatten]] PickleAnalysis walk() {
    WalkState h{.in = ByteCursor(bytes_),
                .stack = stack_.data(),
                .capacity = static_cast<uint32_t>(stack_.size()),
                .marks = marks_.data(),
                .mark_capacity = static_cast<uint32_t>(marks_.size()),
                .memo = memo_dense_.data(),
                .opcodes_left = limits_.max_opcodes};
    std::array<void*, 256> label;
    label.fill(&&unknown_opcode);
#define LOADMATRIX_LABEL_ADDRESS(name, code, protocol, handler, effect)                            \
  label[code] = &&opcode_##name;
    LOADMATRIX_PICKLE_OPCODES(LOADMATRIX_LABEL_ADDRESS)
#undef LOADMATRIX_LABEL_ADDRESS

    goto* label[next_opcode<Budgeted>(h)];
#define LOADMATRIX_LABEL(name, code, protocol, handler, effect)                                    \
  opcode_##name : handler(h);                                                                      \
  if constexpr ((code) == kStop) {                                                                 \
    memo_used_ = h.memo_used;                                                                      \
    return finish(h.in.offset());                                                                  \
  }                                                                                                \
  goto* label[next_opcode<Budgeted>(h)];
    LOADMATRIX_PICKLE_OPCODES(LOADMATRIX_LABEL)
#undef LOADMATRIX_LABEL
  unknown_opcode:
    fail("unknown opcode 0x{:02x}", static_cast<uint8_t>(*opcode_at_));
  }

  template <bool Budgeted> [[gnu::always_inline]] uint8_t next_opcode(WalkState& h) {
    opcode_at_ = h.in.position();
    if constexpr (Budgeted) {
      if (h.opcodes_left == 0) [[unlikely]] {
        fail("more than {} opcodes", limits_.max_opcodes);
      }
      --h.opcodes_left;
    }
    uint8_t opcode = h.in.u8();
    if (first_use_[opcode] == kUnused) [[unlikely]] {
      first_use_[opcode] = opcode_offset();
      opcodes_seen_[opcodes_seen_count_++] = opcode;
    }
    return opcode;
  }

  // --- Protocol and framing -------------------------------------------------------------------
  void op_proto(WalkState& h) {
    analysis_.protocol = h.in.u8();
    if (analysis_.protocol > 5) {
      fail("unsupported pickle protocol {}", analysis_.protocol);
    }
  }
  void op_frame(WalkState& h) {
    h.in.take(8);
  }                           // a length prefix only
  void op_stop(WalkState&) {} // walk() returns after it

  // --- The stack and its MARKs ----------------------------------------------------------------
  void op_mark(WalkState& h) {
    if (h.mark_count >= limits_.max_marks) [[unlikely]] {
      fail("MARKs nested deeper than {}", limits_.max_marks);
    }
    if (h.mark_count == h.mark_capacity) [[unlikely]] {
      h.marks = grow_marks();
      h.mark_capacity = static_cast<uint32_t>(marks_.size());
    }
    h.marks[h.mark_count++] = h.depth;
    push(h, Value{Kind::mark});
  }
  // POP drops a MARK as well as a value (pickle's load_pop does).
  void op_pop(WalkState& h) {
    if (h.depth > 0 && h.stack[h.depth - 1].kind() == Kind::mark) {
      pop_mark(h);
    } else {
      pop(h);
    }
  }
  void op_pop_mark(WalkState& h) {
    pop_mark(h);
  }
  void op_dup(WalkState& h) {
    push(h, top(h));
  }

  // --- Values whose contents do not matter: skipped, pushed as `other`
  // ----------------------------
  void op_constant(WalkState& h) {
    push(h, Value{});
  }                                   // None, True, False, empty containers
  void op_scalar_line(WalkState& h) { // INT, LONG, FLOAT as text
    h.in.line();
    push(h, Value{});
  }
  template <size_t Width> void op_scalar(WalkState& h) { // BININT*, BINFLOAT
    h.in.take(Width);
    push(h, Value{});
  }
  template <size_t Width> void op_sized_scalar(WalkState& h) { // LONG1/4, BINBYTES*, BYTEARRAY8
    h.in.take(h.in.little_endian<Width>());
    push(h, Value{});
  }
  void op_next_buffer(WalkState& h) {
    analysis_.out_of_band_buffers = true;
    push(h, Value{});
  }
  void op_readonly_buffer(WalkState& h) {
    top(h);
  }

  // --- Strings: kept, for STACK_GLOBAL's names and a numpy dtype's type code -------------------
  void op_string_line(WalkState& h) {
    push_string(h, h.in.line());
  }                                                      // STRING, UNICODE
  template <size_t Width> void op_string(WalkState& h) { // a Width-byte length, then the bytes
    push_string(h, h.in.take(h.in.little_endian<Width>()));
  }

  // --- Containers -------------------------------------------------------------------------------
  void op_collection(WalkState& h) { // LIST, DICT, FROZENSET: the items above a MARK
    pop_mark(h);
    push(h, Value{});
  }
  void op_tuple(WalkState& h) {
    Marked items = pop_mark(h);
    push(h, tuple_of(items.first, items.last, items.count));
  }
  template <size_t Items> void op_small_tuple(WalkState& h) { // TUPLE1, TUPLE2, TUPLE3
    Value last = pop(h);
    for (size_t i = 2; i < Items; ++i) {
      pop(h);
    }
    Value first = Items > 1 ? pop(h) : last;
    push(h, tuple_of(first, last, Items));
  }
  void op_append(WalkState& h) {
    pop(h);
    note_target(h, UseKind::append);
  }
  void op_appends(WalkState& h) {
    pop_mark(h);
    note_target(h, UseKind::append);
  }
  void op_setitem(WalkState& h) {
    pop(h);
    pop(h);
    note_target(h, UseKind::setitem);
  }
  void op_setitems(WalkState& h) {
    pop_mark(h);
    note_target(h, UseKind::setitem);
  }
  void op_additems(WalkState& h) {
    pop_mark(h);
    top(h);
  }

  // --- Globals: named, then called, built or instantiated ------------------------------------
  void op_global(WalkState& h) { // GLOBAL module\nname\n
    std::string_view module = h.in.line();
    std::string_view name = h.in.line();
    push(h, name_global(global_name(module, name), UseKind::referenced));
  }
  void op_stack_global(WalkState& h) { // the two strings often come from the memo
    Value name = pop(h);
    Value module = pop(h);
    if (name.kind() != Kind::string || module.kind() != Kind::string) {
      fail("STACK_GLOBAL needs two strings");
    }
    push(h, name_global(global_name(text_of(module.text()), text_of(name.text())),
                        UseKind::referenced));
  }
  template <size_t Width> void op_ext(WalkState& h) { // copyreg's extension registry
    push(h, name_global(extension_global_name(h.in.little_endian<Width>()), UseKind::referenced));
  }
  void op_reduce(WalkState& h) {
    Value args = pop(h);
    Value callable = pop(h);
    use(callable, UseKind::reduce);
    if (callable.kind() == Kind::global && callable.global() == rebuild_sparse_ &&
        args.kind() == Kind::tuple && tuple_length(args) == 2 && last_item_length(args) >= 0 &&
        args.text().length > 0) {
      analysis_.sparse_rebuilds.push_back({std::string(text_of(args.text())),
                                           static_cast<size_t>(last_item_length(args)),
                                           opcode_offset()});
    }
    push(h, made_by(callable, args));
  }
  void op_newobj(WalkState& h) {
    pop(h); // args
    Value cls = pop(h);
    use(cls, UseKind::newobj);
    push(h, made_by(cls));
  }
  void op_newobj_ex(WalkState& h) {
    pop(h); // kwargs
    pop(h); // args
    Value cls = pop(h);
    use(cls, UseKind::newobj_ex);
    push(h, made_by(cls));
  }
  void op_inst(WalkState& h) { // INST module\nname\n, its arguments above a MARK
    std::string_view module = h.in.line();
    std::string_view name = h.in.line();
    pop_mark(h);
    Value global = name_global(global_name(module, name), UseKind::inst);
    push(h, Value{Kind::object, global.global()});
  }
  void op_obj(WalkState& h) { // OBJ: the class and its arguments above a MARK
    auto items = pop_mark(h);
    if (items.count == 0) {
      fail("OBJ without a class");
    }
    use(items.first, UseKind::obj);
    push(h, made_by(items.first));
  }
  void op_build(WalkState& h) { // the state on top goes into the object below it
    pop(h);
    const Value& object = top(h);
    if (object.kind() == Kind::object || object.kind() == Kind::global) {
      note_global(object, UseKind::build);
    }
    if (object.kind() == Kind::object && object.global() == numpy_dtype_ &&
        object.text().length > 0) {
      analysis_.numpy_dtype_builds.push_back(
          {std::string(text_of(object.text())), opcode_offset()});
    }
  }
  void op_persid(WalkState& h) {
    h.in.line();
    analysis_.persistent_ids = true;
    push(h, Value{});
  }
  void op_binpersid(WalkState& h) {
    pop(h);
    analysis_.persistent_ids = true;
    push(h, Value{});
  }

  // --- The memo
  // -----------------------------------------------------------------------------------
  void op_put_line(WalkState& h) {
    memo_put(h, decimal(h.in.line()));
  }
  template <size_t Width> void op_put(WalkState& h) {
    memo_put(h, h.in.little_endian<Width>());
  }
  void op_memoize(WalkState& h) {
    memo_put(h, h.memo_count);
  }
  void op_get_line(WalkState& h) {
    memo_get(h, decimal(h.in.line()));
  }
  template <size_t Width> void op_get(WalkState& h) {
    memo_get(h, h.in.little_endian<Width>());
  }

  // --- What the handlers share
  // --------------------------------------------------------------------
  template <typename... Args>
  [[noreturn, gnu::noinline, gnu::cold]] void fail(fmt::format_string<Args...> what,
                                                   Args&&... args) {
    throw PickleFailure{opcode_offset(), fmt::format(what, std::forward<Args>(args)...)};
  }

  void push(WalkState& h, Value value) {
    if (h.depth == h.capacity) [[unlikely]] {
      h.stack = grow_stack(h.depth);
      h.capacity = static_cast<uint32_t>(stack_.size());
    }
    h.stack[h.depth++] = value;
  }
  Value pop(WalkState& h) {
    if (h.depth == 0 || h.stack[h.depth - 1].kind() == Kind::mark) [[unlikely]] {
      fail("stack underflow");
    }
    return h.stack[--h.depth];
  }
  Value& top(WalkState& h) {
    if (h.depth == 0 || h.stack[h.depth - 1].kind() == Kind::mark) [[unlikely]] {
      fail("stack underflow");
    }
    return h.stack[h.depth - 1];
  }
  // Removes the topmost MARK and everything above it. Only the first and last items are ever
  // needed (a tuple's type code or layout, OBJ's class, sparse data), so nothing is copied out.
  struct Marked {
    size_t count = 0;
    Value first;
    Value last;
  };
  Marked pop_mark(WalkState& h) {
    if (h.mark_count == 0) [[unlikely]] {
      fail("no MARK to pop to");
    }
    // Only MARK pushes a mark, and a mark can be neither memoised nor duplicated, so the recorded
    // position still holds it.
    uint32_t mark = h.marks[--h.mark_count];
    Marked items{h.depth - mark - 1, {}, {}};
    if (items.count > 0) {
      items.first = h.stack[mark + 1];
      items.last = h.stack[h.depth - 1];
    }
    h.depth = mark;
    return items;
  }
  [[gnu::noinline]] Value* grow_stack(uint32_t depth) {
    if (depth >= limits_.max_stack) {
      fail("stack deeper than {}", limits_.max_stack);
    }
    stack_.resize(std::min(stack_.size() * 2, limits_.max_stack));
    return stack_.data();
  }
  [[gnu::noinline]] uint32_t* grow_marks() {
    marks_.resize(std::max<size_t>(16, marks_.size() * 2));
    return marks_.data();
  }

  // A global the stream names, recorded once with its spellings. Torch pickles name each global
  // once and reach it through the memo after, so this is rare.
  [[gnu::noinline]] Value name_global(const GlobalName& global, UseKind use);
  void note_global(const Value& value, UseKind use) {
    size_t& first = uses_[value.global()][static_cast<size_t>(use)];
    if (first == kUnused) {
      first = opcode_offset();
    }
  }
  // APPEND or SETITEM into an object a global made: torch 2.10+ checks the target's type.
  void note_target(WalkState& h, UseKind use) {
    const Value& target = top(h);
    if (target.kind() == Kind::object) {
      note_global(target, use);
    }
  }
  void use(const Value& callable, UseKind how) {
    if (callable.kind() == Kind::global) {
      note_global(callable, how);
    }
  }
  // What calling `callable` makes: an object of that global, remembered with its first argument
  // when `args` is a tuple that starts with a string.
  static Value made_by(const Value& callable, const Value& args = {}) {
    if (callable.kind() != Kind::global) {
      return {};
    }
    return Value{Kind::object, callable.global(),
                 args.kind() == Kind::tuple ? args.text() : TextRef{}};
  }
  // A tuple keeps its first item's text when that is a string or a layout (made by
  // torch.serialization._get_layout), its length, and its last item's length when that is a
  // tuple: enough for a numpy.dtype's type code and for _rebuild_sparse_tensor's (layout, data).
  Value tuple_of(const Value& first, const Value& last, size_t count) const {
    bool text = first.kind() == Kind::string ||
                (first.kind() == Kind::object && first.global() == get_layout_);
    uint32_t shape = static_cast<uint32_t>(std::min<size_t>(count, 255));
    if (count > 0 && last.kind() == Kind::tuple) {
      shape |= std::min<uint32_t>(tuple_length(last) + 1, 255) << 8;
    }
    return Value{Kind::tuple, shape, text ? first.text() : TextRef{}};
  }
  static uint32_t tuple_length(const Value& tuple) {
    return tuple.global() & 0xff;
  }
  // The length of a tuple's last item, when that is a tuple; -1 otherwise.
  static int last_item_length(const Value& tuple) {
    return static_cast<int>(tuple.global() >> 8) - 1;
  }

  Value* memo_slot(WalkState& h, uint64_t key, bool create) {
    if (key < DenseMemo::kEntries) [[likely]] {
      return &h.memo[key];
    }
    return memo_slot_sparse(key, create);
  }
  [[gnu::noinline]] Value* memo_slot_sparse(uint64_t key, bool create);
  void memo_put(WalkState& h, uint64_t key) {
    Value* slot = memo_slot(h, key, true);
    h.memo_used = std::max(h.memo_used, key + 1);
    if (slot->kind() == Kind::absent) {
      if (h.memo_count >= limits_.max_memo) [[unlikely]] {
        fail("memo larger than {}", limits_.max_memo);
      }
      ++h.memo_count;
    }
    *slot = top(h);
  }
  void memo_get(WalkState& h, uint64_t key) {
    Value* slot = memo_slot(h, key, false);
    if (slot == nullptr || slot->kind() == Kind::absent) [[unlikely]] {
      fail("memo key {} was never stored", key);
    }
    push(h, *slot);
  }
  [[gnu::noinline]] uint64_t decimal(std::string_view text); // PUT's and GET's text key

  // A string is kept only as long as a global's name can be: a multi-GB string in a hostile
  // pickle costs nothing to skip and must not be copied. One more than 4 GB into a pickle cannot
  // be referenced by a one-word value and is not kept either (as a global's name it makes
  // STACK_GLOBAL fail, which the scan reports).
  void push_string(WalkState& h, std::string_view text) {
    auto offset = static_cast<uint64_t>(text.data() - bytes_.data());
    bool kept = text.size() <= Value::kMaxText && offset <= UINT32_MAX;
    push(h, kept ? Value{Kind::string,
                         0,
                         {static_cast<uint32_t>(offset), static_cast<uint32_t>(text.size())}}
                 : Value{});
  }
  std::string_view text_of(TextRef text) const {
    return bytes_.substr(text.offset, text.length);
  }

  [[gnu::noinline]] PickleAnalysis finish(size_t end_offset);
  size_t opcode_offset() const {
    return static_cast<size_t>(opcode_at_ - bytes_.data());
  }

  std::string_view bytes_;
  PickleLimits limits_;
  WalkMemory& memory_;
  PickleAnalysis analysis_;
  std::vector<Value> stack_;    // WalkState's stack during the walk
  std::vector<uint32_t> marks_; // WalkState's marks during the walk
  DenseMemo& memo_dense_;       // WalkState's memo during the walk
  std::unordered_map<uint64_t, Value> memo_sparse_;
  uint64_t memo_used_ = ~uint64_t{0}; // WalkState's memo_used once the walk finished; all if not
  const char* opcode_at_ = nullptr;   // where the opcode being walked starts
  std::unordered_map<std::string, uint32_t> index_;        // global name -> its index in analysis_
  std::vector<std::array<size_t, kUseNames.size()>> uses_; // per global: each use's first offset
  uint32_t numpy_dtype_ = ~uint32_t{0};                    // its index, once named
  uint32_t get_layout_ = ~uint32_t{0};                     // torch.serialization._get_layout's
  uint32_t rebuild_sparse_ = ~uint32_t{0};                 // torch._utils._rebuild_sparse_tensor's
  std::array<size_t, 256> first_use_ = [] {
    std::array<size_t, 256> table{};
    table.fill(kUnused);
    return table;
  }();
  std::array<uint8_t, 256> opcodes_seen_; // the codes first_use_ holds, [0, opcodes_seen_count_)
  size_t opcodes_seen_count_ = 0;
};

Walker::~Walker() {
  // What a hostile pickle grew past a normal checkpoint's needs is not kept for the next one.
  constexpr size_t kKept = 1 << 18; // entries the stack and the marks keep between pickles
  memo_dense_.clear(memo_used_);
  if (stack_.size() > kKept) {
    stack_ = {};
  }
  if (marks_.size() > kKept) {
    marks_ = {};
  }
  memo_sparse_.clear();
  memory_.stack = std::move(stack_);
  memory_.marks = std::move(marks_);
  memory_.memo_sparse = std::move(memo_sparse_);
}

Value Walker::name_global(const GlobalName& global, UseKind use) {
  auto it = index_.find(global.name);
  if (it == index_.end()) {
    size_t max_globals = std::min<size_t>(limits_.max_globals, Value::kMaxGlobals);
    if (analysis_.globals.size() >= max_globals) {
      fail("more than {} distinct globals", max_globals);
    }
    it = index_.emplace(global.name, static_cast<uint32_t>(analysis_.globals.size())).first;
    analysis_.globals.push_back({global.name, global.raw, global.module, {}, opcode_offset()});
    uses_.emplace_back();
    uses_.back().fill(kUnused);
    if (global.name == "numpy.dtype") {
      numpy_dtype_ = it->second;
    } else if (global.name == "torch.serialization._get_layout") {
      get_layout_ = it->second;
    } else if (global.name == "torch._utils._rebuild_sparse_tensor") {
      rebuild_sparse_ = it->second;
    }
  }
  Value value{Kind::global, it->second};
  note_global(value, use);
  return value;
}

Value* Walker::memo_slot_sparse(uint64_t key, bool create) {
  if (!create) {
    auto it = memo_sparse_.find(key);
    return it == memo_sparse_.end() ? nullptr : &it->second;
  }
  return &memo_sparse_.try_emplace(key, Value{Kind::absent}).first->second;
}

uint64_t Walker::decimal(std::string_view text) {
  if (text.empty() || text.size() > 18) {
    fail("bad decimal argument");
  }
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      fail("bad decimal argument");
    }
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

PickleAnalysis Walker::finish(size_t end_offset) {
  analysis_.end_offset = end_offset;
  // Sized once and filled in key order, so the flat maps neither grow nor shift. A pickle uses a
  // few dozen of the 256 codes: those seen are sorted rather than the table scanned.
  std::sort(opcodes_seen_.begin(), opcodes_seen_.begin() + opcodes_seen_count_);
  analysis_.opcodes_used.reserve(opcodes_seen_count_);
  for (size_t i = 0; i < opcodes_seen_count_; ++i) {
    uint8_t code = opcodes_seen_[i];
    analysis_.opcodes_used.emplace_hint(analysis_.opcodes_used.end(), code, first_use_[code]);
  }
  for (size_t index = 0; index < analysis_.globals.size(); ++index) {
    auto& uses = analysis_.globals[index].uses;
    const auto& first = uses_[index];
    uses.reserve(static_cast<size_t>(
        std::count_if(first.begin(), first.end(), [](size_t at) { return at != kUnused; })));
    for (size_t use = 0; use < first.size(); ++use) {
      if (first[use] != kUnused) {
        uses.emplace_hint(uses.end(), static_cast<UseKind>(use), first[use]);
      }
    }
  }
  return std::move(analysis_);
}

} // namespace

const char* use_kind_name(UseKind kind) {
  return static_cast<size_t>(kind) < kUseNames.size() ? kUseNames[static_cast<size_t>(kind)]
                                                      : "unknown";
}

const char* pickle_opcode_name(uint8_t opcode) {
  switch (opcode) {
#define LOADMATRIX_NAME_CASE(name, code, protocol, handler, effect)                                \
  case code:                                                                                       \
    return #name;
    LOADMATRIX_PICKLE_OPCODES(LOADMATRIX_NAME_CASE)
#undef LOADMATRIX_NAME_CASE
  }
  return "UNKNOWN";
}

Expected<PickleAnalysis> analyze_pickle(std::string_view bytes, const PickleLimits& limits) {
  thread_local WalkMemory memory;
  try {
    return Walker(bytes, limits, memory).run();
  } catch (const PickleFailure& failure) {
    return Error{fmt::format("offset {}: {}", failure.offset, failure.what)};
  }
}

} // namespace loadmatrix
