// The one production pickle walk: reads every opcode of pickle_opcodes.h with bounds checks and
// budgets, and keeps the stack, its MARKs and the memo. What a value is, and what an opcode does
// with the values it takes, is the walker's that derives from it (CRTP): pickle_analysis.cpp
// keeps one machine word per value (SymbolicValue) to say which globals are used how;
// object_paths.cpp keeps a node of the saved object per value to say where each global sits.
// Both are walked by the same dispatch, so they read the same bytes the same way.
//
// A derived walker `W` over values `V` gives, each inlined into the walk:
//   static V mark(); static bool is_mark(const V&); static bool is_absent(const V&);
//   V* memo_slot(WalkState<V>&, uint64_t key, bool create);  null when absent and not created
//   uint64_t decimal(std::string_view);                       PUT's and GET's text key
//   void start(WalkState<V>&);  void saw_opcode(uint8_t);  void protocol(uint8_t);
//   Result stop(WalkState<V>&);  static constexpr bool kOverBudgetAtLastOpcode;
//   V constant(); V empty_container(); V scalar(); V integer(long long); V int_line(line, long);
//   V string(bytes); V quoted_string(line); V persistent_id(); V next_buffer();
//   bool is_string(const V&); std::string_view text(const V&);
//   and what the other opcodes do with what they popped (each pushing what it makes, if
//   anything): push_global, list, dict, tuple, append, appends, setitem, setitems, additems,
//   reduce, newobj, newobj_ex, inst, obj, build, binpersid.
#pragma once

#include "pickle/byte_cursor.h"
#include "pickle/global_name.h"
#include "pickle/pickle_analysis.h"
#include "pickle/pickle_opcodes.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fmt/core.h>
#include <string_view>
#include <utility>
#include <vector>

namespace loadmatrix {

// What every opcode reads and writes. walk() keeps it in a local and passes it by reference to
// handlers that are inlined into it, so the compiler holds it in registers; kept in the walker's
// members, any store of a value to the stack might alias it, and each opcode paid a store and a
// reload (bench/README.md).
template <typename Value> struct WalkState {
  ByteCursor in;
  Value* stack; // the stack is stack[0, depth); stack[0, capacity) is allocated
  uint32_t depth = 0;
  uint32_t capacity;
  uint32_t* marks; // the stack positions of the MARKs on it, marks[0, mark_count)
  uint32_t mark_count = 0;
  uint32_t mark_capacity;
  Value* memo;            // a walker's own memo storage, if it keeps one here
  uint64_t memo_used = 0; // one past the highest memo key stored
  size_t memo_count = 0;  // distinct keys stored
  size_t opcodes_left;    // the opcode budget, counted only by walk<true>
};

// The items above a popped MARK, still in the stack's storage: valid until the next push but
// one (one push writes where the MARK was, below them).
template <typename Value> struct MarkedItems {
  const Value* first = nullptr;
  uint32_t count = 0;
  const Value& operator[](size_t i) const { return first[i]; }
  const Value* begin() const { return first; }
  const Value* end() const { return first + count; }
};

template <typename Derived, typename Value, typename Result> class PickleWalk {
public:
  using State = WalkState<Value>;
  using Items = MarkedItems<Value>;

  // Each opcode takes at least its own byte, so a pickle shorter than the opcode budget cannot
  // exceed it: only one at least as long is walked counting opcodes.
  Result run() { return bytes_.size() >= limits_.max_opcodes ? walk<true>() : walk<false>(); }

protected:
  PickleWalk(std::string_view bytes, const PickleLimits& limits, std::vector<Value> stack,
             std::vector<uint32_t> marks)
      : bytes_(bytes), limits_(limits), stack_(std::move(stack)), marks_(std::move(marks)) {
    // A 32-bit depth bounds the stack.
    limits_.max_stack = std::min<size_t>(limits_.max_stack, UINT32_MAX);
    stack_.resize(std::min<size_t>(std::max<size_t>(stack_.size(), 64), limits_.max_stack));
    opcode_at_ = bytes_.data();
  }
  PickleWalk(const PickleWalk&) = delete;
  PickleWalk& operator=(const PickleWalk&) = delete;
  ~PickleWalk() = default;

  template <typename... Args>
  [[noreturn, gnu::noinline, gnu::cold]] void fail(fmt::format_string<Args...> what,
                                                   Args&&... args) const {
    throw PickleFailure{opcode_offset(), fmt::format(what, std::forward<Args>(args)...)};
  }
  size_t opcode_offset() const { return static_cast<size_t>(opcode_at_ - bytes_.data()); }

  void push(State& h, Value value) {
    if (h.depth == h.capacity) [[unlikely]] {
      h.stack = grow_stack(h.depth);
      h.capacity = static_cast<uint32_t>(stack_.size());
    }
    h.stack[h.depth++] = value;
  }
  Value pop(State& h) {
    if (h.depth == 0 || Derived::is_mark(h.stack[h.depth - 1])) [[unlikely]] {
      fail("stack underflow");
    }
    return h.stack[--h.depth];
  }
  Value& top(State& h) {
    if (h.depth == 0 || Derived::is_mark(h.stack[h.depth - 1])) [[unlikely]] {
      fail("stack underflow");
    }
    return h.stack[h.depth - 1];
  }
  // Removes the topmost MARK and everything above it; nothing is copied out.
  Items pop_mark(State& h) {
    if (h.mark_count == 0) [[unlikely]] {
      fail("no MARK to pop to");
    }
    // Only MARK pushes a mark, and a mark can be neither memoised nor duplicated, so the recorded
    // position still holds it.
    uint32_t mark = h.marks[--h.mark_count];
    Items items{h.stack + mark + 1, h.depth - mark - 1};
    h.depth = mark;
    return items;
  }

  std::string_view bytes_;
  PickleLimits limits_;
  std::vector<Value> stack_;    // State's stack during the walk
  std::vector<uint32_t> marks_; // State's marks during the walk

private:
  Derived& self() { return static_cast<Derived&>(*this); }

  // Threaded dispatch, generated from pickle_opcodes.h: each opcode has a label that runs its
  // handler and then jumps straight to the next opcode's label. A loop around one `switch` has a
  // single shared jump, which the branch predictor cannot learn torch's repeating opcode pattern
  // on; it made the walk much slower (bench/README.md, "The pickle walker").
  // `flatten` inlines every handler, so no call takes State's address and it stays in
  // registers; the rare, large helpers are noinline and do not take it.
  template <bool Budgeted> [[gnu::flatten]] Result walk() {
    State h{.in = ByteCursor(bytes_),
            .stack = stack_.data(),
            .capacity = static_cast<uint32_t>(stack_.size()),
            .marks = marks_.data(),
            .mark_capacity = static_cast<uint32_t>(marks_.size()),
            .memo = nullptr,
            .opcodes_left = limits_.max_opcodes};
    self().start(h);
    std::array<void*, 256> label;
    label.fill(&&unknown_opcode);
#define LOADMATRIX_LABEL_ADDRESS(name, code, protocol, handler, effect)                            \
  label[code] = &&opcode_##name;
    LOADMATRIX_PICKLE_OPCODES(LOADMATRIX_LABEL_ADDRESS)
#undef LOADMATRIX_LABEL_ADDRESS

    goto* label[next_opcode<Budgeted>(h)];
#define LOADMATRIX_LABEL(name, code, protocol, handler, effect)                                    \
  opcode_##name : handler(h);                                                                      \
  if constexpr ((code) == '.') {                                                                   \
    return self().stop(h);                                                                         \
  }                                                                                                \
  goto* label[next_opcode<Budgeted>(h)];
    LOADMATRIX_PICKLE_OPCODES(LOADMATRIX_LABEL)
#undef LOADMATRIX_LABEL
  unknown_opcode:
    fail("unknown opcode 0x{:02x}", static_cast<uint8_t>(*opcode_at_));
  }

  template <bool Budgeted> [[gnu::always_inline]] uint8_t next_opcode(State& h) {
    if constexpr (Budgeted) {
      if (h.opcodes_left == 0) [[unlikely]] {
        over_budget(h.in.position());
      }
      --h.opcodes_left;
    }
    opcode_at_ = h.in.position();
    uint8_t opcode = h.in.u8();
    self().saw_opcode(opcode);
    return opcode;
  }

  // --- Protocol and framing -------------------------------------------------------------------
  void op_proto(State& h) {
    self().protocol(h.in.u8());
  }
  void op_frame(State& h) {
    h.in.take(8);
  }                       // a length prefix only
  void op_stop(State&) {} // walk() returns what stop() makes after it

  // --- The stack and its MARKs ----------------------------------------------------------------
  void op_mark(State& h) {
    if (h.mark_count >= limits_.max_marks) [[unlikely]] {
      fail("MARKs nested deeper than {}", limits_.max_marks);
    }
    if (h.mark_count == h.mark_capacity) [[unlikely]] {
      h.marks = grow_marks();
      h.mark_capacity = static_cast<uint32_t>(marks_.size());
    }
    h.marks[h.mark_count++] = h.depth;
    push(h, Derived::mark());
  }
  // POP drops a MARK as well as a value (pickle's load_pop does).
  void op_pop(State& h) {
    if (h.depth > 0 && Derived::is_mark(h.stack[h.depth - 1])) {
      pop_mark(h);
    } else {
      pop(h);
    }
  }
  void op_pop_mark(State& h) {
    pop_mark(h);
  }
  void op_dup(State& h) {
    push(h, top(h));
  }

  // --- Scalars ----------------------------------------------------------------------------------
  void op_constant(State& h) {
    push(h, self().constant());
  } // None, True, False
  void op_empty_container(State& h) {
    push(h, self().empty_container());
  }
  void op_float_line(State& h) { // FLOAT as text
    h.in.line();
    push(h, self().scalar());
  }
  void op_int_line(State& h) {
    push(h, self().int_line(h.in.line(), false));
  }
  void op_long_line(State& h) {
    push(h, self().int_line(h.in.line(), true));
  }
  void op_binfloat(State& h) {
    h.in.take(8);
    push(h, self().scalar());
  }
  template <size_t Width> void op_binint(State& h) { // BININT is signed, BININT1/2 are not
    uint64_t raw = h.in.template little_endian<Width>();
    push(h, self().integer(Width == 4 ? static_cast<int32_t>(static_cast<uint32_t>(raw))
                                      : static_cast<long long>(raw)));
  }
  template <size_t Width> void op_sized_scalar(State& h) { // LONG1/4, BINBYTES*, BYTEARRAY8
    h.in.take(h.in.template little_endian<Width>());
    push(h, self().scalar());
  }
  void op_next_buffer(State& h) {
    push(h, self().next_buffer());
  }
  void op_readonly_buffer(State& h) {
    top(h);
  }

  // --- Strings ----------------------------------------------------------------------------------
  void op_string_line(State& h) {
    push(h, self().quoted_string(h.in.line()));
  }                                                  // STRING, UNICODE
  template <size_t Width> void op_string(State& h) { // a Width-byte length, then the bytes
    push(h, self().string(h.in.take(h.in.template little_endian<Width>())));
  }

  // --- Containers -------------------------------------------------------------------------------
  void op_collection(State& h) {
    self().list(h, pop_mark(h));
  } // LIST, FROZENSET
  void op_dict(State& h) {
    self().dict(h, pop_mark(h));
  }
  void op_tuple(State& h) {
    self().tuple(h, pop_mark(h));
  }
  template <size_t Count> void op_small_tuple(State& h) { // TUPLE1, TUPLE2, TUPLE3
    std::array<Value, Count> items;
    for (size_t i = Count; i-- > 0;) {
      items[i] = pop(h);
    }
    self().tuple(h, Items{items.data(), Count});
  }
  void op_append(State& h) {
    Value item = pop(h);
    self().append(h, item);
  }
  void op_appends(State& h) {
    self().appends(h, pop_mark(h));
  }
  void op_setitem(State& h) {
    Value value = pop(h);
    Value key = pop(h);
    self().setitem(h, key, value);
  }
  void op_setitems(State& h) {
    self().setitems(h, pop_mark(h));
  }
  void op_additems(State& h) {
    self().additems(h, pop_mark(h));
  }

  // --- Globals: named, then called, built or instantiated ------------------------------------
  void op_global(State& h) { // GLOBAL module\nname\n
    std::string_view module = h.in.line();
    std::string_view name = h.in.line();
    self().push_global(h, global_name(module, name));
  }
  void op_stack_global(State& h) { // the two strings often come from the memo
    Value name = pop(h);
    Value module = pop(h);
    if (!self().is_string(name) || !self().is_string(module)) {
      fail("STACK_GLOBAL needs two strings");
    }
    self().push_global(h, global_name(self().text(module), self().text(name)));
  }
  template <size_t Width> void op_ext(State& h) { // copyreg's extension registry
    self().push_global(h, extension_global_name(h.in.template little_endian<Width>()));
  }
  void op_reduce(State& h) {
    Value args = pop(h);
    Value callable = pop(h);
    self().reduce(h, callable, args);
  }
  void op_newobj(State& h) {
    Value args = pop(h);
    Value cls = pop(h);
    self().newobj(h, cls, args);
  }
  void op_newobj_ex(State& h) {
    Value kwargs = pop(h);
    Value args = pop(h);
    Value cls = pop(h);
    self().newobj_ex(h, cls, args, kwargs);
  }
  void op_inst(State& h) { // INST module\nname\n, its arguments above a MARK
    std::string_view module = h.in.line();
    std::string_view name = h.in.line();
    Items arguments = pop_mark(h);
    self().inst(h, global_name(module, name), arguments);
  }
  void op_obj(State& h) { // OBJ: the class and its arguments above a MARK
    Items items = pop_mark(h);
    if (items.count == 0) {
      fail("OBJ without a class");
    }
    self().obj(h, items);
  }
  void op_build(State& h) { // the state on top goes into the object below it
    Value state = pop(h);
    self().build(top(h), state);
  }
  void op_persid(State& h) {
    h.in.line();
    push(h, self().persistent_id());
  }
  void op_binpersid(State& h) {
    Value id = pop(h);
    self().binpersid(h, id);
  }

  // --- The memo -------------------------------------------------------------------------------
  void op_put_line(State& h) {
    memo_put(h, self().decimal(h.in.line()));
  }
  template <size_t Width> void op_put(State& h) {
    memo_put(h, h.in.template little_endian<Width>());
  }
  void op_memoize(State& h) {
    memo_put(h, h.memo_count);
  }
  void op_get_line(State& h) {
    memo_get(h, self().decimal(h.in.line()));
  }
  template <size_t Width> void op_get(State& h) {
    memo_get(h, h.in.template little_endian<Width>());
  }

  void memo_put(State& h, uint64_t key) {
    Value* slot = self().memo_slot(h, key, true);
    h.memo_used = std::max(h.memo_used, key + 1);
    if (Derived::is_absent(*slot)) {
      if (h.memo_count >= limits_.max_memo) [[unlikely]] {
        fail("memo larger than {}", limits_.max_memo);
      }
      ++h.memo_count;
    }
    *slot = top(h);
  }
  void memo_get(State& h, uint64_t key) {
    Value* slot = self().memo_slot(h, key, false);
    if (slot == nullptr || Derived::is_absent(*slot)) [[unlikely]] {
      fail("memo key {} was never stored", key);
    }
    push(h, *slot);
  }

  // The error names the opcode past the budget, or, where the walker says so, the last one
  // walked (Derived::kOverBudgetAtLastOpcode).
  [[noreturn, gnu::noinline, gnu::cold]] void over_budget(const char* next) {
    if (!Derived::kOverBudgetAtLastOpcode) {
      opcode_at_ = next;
    }
    fail("more than {} opcodes", limits_.max_opcodes);
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

  const char* opcode_at_ = nullptr; // where the opcode being walked starts
};

} // namespace loadmatrix
