#include "pickle/pickle_analysis.h"

#include "pickle/pickle_opcodes.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <fmt/core.h>
#include <map>
#include <new>
#include <sys/mman.h>
#include <unordered_map>

namespace loadmatrix {

namespace {

// Where a string the walker keeps lies in the pickle's bytes.
struct TextRef {
  uint32_t offset = 0;
  uint32_t length = 0;
};

// What the symbolic stack tracks: enough to resolve STACK_GLOBAL through the memo and to say
// which global an object came from when it is later BUILT.
// A value is one machine word (kind, global index, and a string as offset and length into the
// pickle), never a copy of anything: the walk copies a value on almost every opcode, and a
// wider value, built from narrow stores and copied at once, stalls the CPU on every copy.
class Value {
public:
  enum class Kind : uint8_t { absent, mark, string, global, object, tuple, other };
  static constexpr uint32_t kMaxText = (1u << 12) - 1;    // longer strings are not kept
  static constexpr uint32_t kMaxGlobals = (1u << 17) - 1; // distinct globals it can index

  Value() = default;
  // string: `text` is its value; tuple: its first item, when that is a string (a numpy.dtype's
  // type code); object: the first argument it was made with, when a string.
  // global and object: `global` is the global's index in the analysis.
  explicit Value(Kind kind, uint32_t global = 0, TextRef text = {})
      : bits_(static_cast<uint64_t>(kind) | static_cast<uint64_t>(global) << 3 |
              static_cast<uint64_t>(text.length) << 20 | static_cast<uint64_t>(text.offset) << 32) {
  }
  Kind kind() const { return static_cast<Kind>(bits_ & 0x7); }
  uint32_t global() const { return static_cast<uint32_t>(bits_ >> 3) & kMaxGlobals; }
  TextRef text() const {
    return {static_cast<uint32_t>(bits_ >> 32), static_cast<uint32_t>(bits_ >> 20) & kMaxText};
  }

private:
  uint64_t bits_ = static_cast<uint64_t>(Kind::other);
};
static_assert(sizeof(Value) == 8);

// What a global is used for; the walker keeps each use's first offset in a fixed slot.
using Use = UseKind;
constexpr std::array<const char*, static_cast<size_t>(Use::count)> kUseNames = {
    "APPEND", "BUILD", "INST", "NEWOBJ", "NEWOBJ_EX", "OBJ", "REDUCE", "SETITEM", "referenced"};

struct Failure {
  size_t offset;
  std::string what;
};

// Positions are pointers, not an offset into a view: the walk keeps the read position in a
// register and compares it with the end, where an offset needed the view's data and size too,
// two loads from the stack for every byte read.
class Cursor {
public:
  explicit Cursor(std::string_view bytes)
      : begin_(bytes.data()), at_(bytes.data()), end_(bytes.data() + bytes.size()) {}
  size_t offset() const { return static_cast<size_t>(at_ - begin_); }
  const char* position() const { return at_; }

  // The reads are forced inline: with two walks (see Walker::run) the compiler stopped inlining
  // them on its own, and a call per byte read cost 10% more instructions.
  [[gnu::always_inline]] uint8_t u8() { return static_cast<uint8_t>(take(1)[0]); }
  // A fixed-width argument as one load: a byte loop here was a sixth of the walk's instructions.
  template <size_t Width> [[gnu::always_inline]] uint64_t little_endian() {
    static_assert(std::endian::native == std::endian::little, "pickle integers are little-endian");
    uint64_t value = 0;
    std::memcpy(&value, take(Width).data(), Width);
    return value;
  }
  // Bounds-checked once: the view is made from the pointer, not by substr, which checks again.
  [[gnu::always_inline]] std::string_view take(uint64_t count) {
    auto left = static_cast<uint64_t>(end_ - at_);
    if (count > left) [[unlikely]] {
      short_of(offset(), count, left);
    }
    std::string_view out(at_, count);
    at_ += count;
    return out;
  }
  // Protocol 0's newline-terminated arguments.
  [[gnu::always_inline]] std::string_view line() {
    const void* newline = std::memchr(at_, '\n', static_cast<size_t>(end_ - at_));
    if (newline == nullptr) {
      throw Failure{offset(), "unterminated line argument"};
    }
    std::string_view out(at_, static_cast<size_t>(static_cast<const char*>(newline) - at_));
    at_ = static_cast<const char*>(newline) + 1;
    return out;
  }

private:
  // Failure paths stay out of line so the hot reads inline into the walk.
  // It takes values, not `this`: a cursor whose address never escapes stays in registers.
  [[noreturn, gnu::noinline, gnu::cold]] static void short_of(size_t offset, uint64_t count,
                                                              size_t left) {
    throw Failure{offset, fmt::format("needs {} bytes, {} left", count, left)};
  }

  const char* begin_;
  const char* at_;
  const char* end_;
};

struct GlobalName {
  std::string name;   // module.qualname, Python 3 spelling
  std::string module; // Python 3 spelling
  std::string raw;    // as written
};

// The Python 2 names pickle protocols 0-2 write, mapped to Python 3 (a subset of
// _compat_pickle.NAME_MAPPING / IMPORT_MAPPING: the modules checkpoints reach).
GlobalName global_name(std::string_view written_module, std::string_view written_name) {
  static const std::map<std::string, std::string, std::less<>> modules = {
      {"__builtin__", "builtins"},
      {"copy_reg", "copyreg"},
      {"exceptions", "builtins"},
      {"cPickle", "pickle"},
      {"UserDict", "collections"}};
  std::string module(written_module);
  std::string name(written_name);
  if (auto it = modules.find(module); it != modules.end()) {
    module = it->second;
  }
  if (module == "builtins" && name == "unicode") {
    name = "str";
  } else if (module == "builtins" && name == "xrange") {
    name = "range";
  }
  std::string raw;
  raw.reserve(written_module.size() + 1 + written_name.size());
  raw.append(written_module).append(".").append(written_name);
  return {module + "." + name, module, std::move(raw)};
}

// The memo's dense keys, [0, kEntries): address space mapped once per thread and never grown.
// An all-zero Value is absent, and the kernel hands out zeroed pages only as they are touched, so
// a walk pays for the keys it stores and nothing else. Grown from 64 entries by doubling, the
// first 12,000-tensor checkpoint a thread walked paid as much again for copying and faulting in
// its memo (about 540 page faults) as for the walk.
class DenseMemo {
public:
  static constexpr uint64_t kEntries = 1 << 20;

  DenseMemo() {
    void* pages = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (pages == MAP_FAILED) {
      throw std::bad_alloc();
    }
    entries_ = static_cast<Value*>(pages);
  }
  ~DenseMemo() { ::munmap(entries_, kBytes); }
  DenseMemo(const DenseMemo&) = delete;
  DenseMemo& operator=(const DenseMemo&) = delete;

  Value* data() const { return entries_; }
  // Every entry absent again, given that none at or past `used` was stored. Clearing more than a
  // normal checkpoint needs would keep what a hostile pickle touched: those pages go back to the
  // kernel instead (and come back zeroed).
  void clear(uint64_t used) {
    constexpr uint64_t kClearedInPlace = 1 << 18; // 2 MiB
    if (used <= kClearedInPlace) {
      std::memset(static_cast<void*>(entries_), 0, used * sizeof(Value));
    } else {
      ::madvise(entries_, kBytes, MADV_DONTNEED);
    }
  }

private:
  static constexpr size_t kBytes = kEntries * sizeof(Value);
  Value* entries_ = nullptr;
};

// The walk's working memory, kept by each thread from one pickle to the next. A 12,000-tensor
// checkpoint's memo has 84,000 entries: allocating, faulting in and freeing it for every file
// cost more than the walk itself. Between walks the memo holds only absent entries.
struct WalkMemory {
  std::vector<Value> stack;
  std::vector<uint32_t> marks;
  DenseMemo memo_dense;
  std::unordered_map<uint64_t, Value> memo_sparse;
};

// The state every opcode reads and writes: the read position, the stack's top, the MARKs'
// positions and the memo's bounds. It lives in run()'s locals, passed by reference only to inlined
// code, so the compiler keeps it in registers. As members they went through memory on every opcode,
// a store and a reload on the walk's critical path, since any store of a 64-bit Value might alias
// them.
struct HotState {
  Cursor in;
  Value* stack;
  uint32_t depth = 0;     // the stack is stack[0, depth)
  uint32_t capacity;      // stack[0, capacity) is allocated; a push checks the budget here
  Value* memo;            // the dense memo, memo[0, DenseMemo::kEntries)
  uint64_t memo_used = 0; // one past the highest dense key stored: what to clear after
  size_t memo_count = 0;
  uint32_t* marks;         // where each MARK on the stack is, marks[0, mark_count)
  uint32_t mark_count = 0; // (looking down the stack for the topmost one cost 7% of the walk)
  uint32_t mark_capacity;
  size_t opcodes_left; // the opcode budget: the walk fails on an opcode read with none left
};

class Walker {
public:
  // Takes `memory`'s buffers for the walk and gives them back, memo cleared, when done.
  Walker(std::string_view bytes, const PickleLimits& limits, WalkMemory& memory)
      : bytes_(bytes), limits_(limits), memory_(memory), stack_(std::move(memory.stack)),
        marks_(std::move(memory.marks)), memo_dense_(memory.memo_dense),
        memo_sparse_(std::move(memory.memo_sparse)) {
    // The stack's size is where a push checks the depth budget, which a 32-bit depth bounds.
    limits_.max_stack = std::min<size_t>(limits_.max_stack, UINT32_MAX);
    opcode_at_ = bytes_.data();
    stack_.resize(std::min<size_t>(std::max<size_t>(stack_.size(), 64), limits_.max_stack));
  }
  Walker(const Walker&) = delete;
  Walker& operator=(const Walker&) = delete;
  ~Walker() {
    // What a hostile pickle grew past a normal checkpoint's needs is not kept for the next one.
    constexpr size_t kKept = 1 << 18; // entries the stack and the marks keep between pickles
    // A walk that failed never said how much of the memo it used: all of it is cleared.
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

  // Reads the next opcode, counting it against the budget when the walk is `Budgeted`. Where it
  // is first used is noted by its first dispatch (op_first_use), not checked here every time.
  template <bool Budgeted> [[gnu::always_inline]] uint8_t next_opcode(HotState& h) {
    opcode_at_ = h.in.position();
    if constexpr (Budgeted) {
      if (h.opcodes_left == 0) [[unlikely]] {
        fail("more than {} opcodes", limits_.max_opcodes);
      }
      --h.opcodes_left;
    }
    return h.in.u8();
  }
  [[gnu::always_inline]] void note_first_use(uint8_t opcode) {
    if (first_use_[opcode] == kUnused) [[unlikely]] {
      first_use_[opcode] = opcode_offset();
      opcodes_seen_[opcodes_seen_count_++] = opcode;
    }
  }

  // The opcode after one that pushes what torch memoises: a BINPUT or LONG_BINPUT that follows
  // is done here, for a branch this site predicts instead of a dispatch of its own.
  // A BINPUT done here is never dispatched, so its first use is noted here.
  template <bool Budgeted> [[gnu::always_inline]] uint8_t next_opcode_after_push(HotState& h) {
    uint8_t opcode = next_opcode<Budgeted>(h);
    if (opcode == 'q') {
      note_first_use('q');
      memo_put(h, h.in.u8());
      opcode = next_opcode<Budgeted>(h);
    } else if (opcode == 'r') {
      note_first_use('r');
      memo_put(h, h.in.little_endian<4>());
      opcode = next_opcode<Budgeted>(h);
    }
    return opcode;
  }

  // Where a handler jumps: the next opcode's entry in the dispatch table.
  using Handlers = std::array<void*, 256>;
  template <bool Budgeted>
  [[gnu::always_inline]] void* next_handler(HotState& h, const Handlers& handlers) {
    return handlers[next_opcode<Budgeted>(h)];
  }
  template <bool Budgeted>
  [[gnu::always_inline]] void* next_handler_after_push(HotState& h, const Handlers& handlers) {
    return handlers[next_opcode_after_push<Budgeted>(h)];
  }

  // Each opcode takes at least its own byte, so a pickle no longer than the opcode budget
  // cannot exceed it: only a longer one is walked counting opcodes, which cost a tenth of the
  // walk's instructions.
  PickleAnalysis run() {
    return bytes_.size() > limits_.max_opcodes ? walk<true>() : walk<false>();
  }

private:
  // Longer than 80 lines on purpose: the handlers are labels of a computed-goto interpreter,
  // and a label cannot leave its function. Each handler is a few lines; pickle_opcodes.h maps
  // every opcode to its handler.
  // Each opcode's handler ends in its own jump to the next opcode's handler, not in a jump back
  // to one shared switch: with a dispatch per handler the branch predictor learns which opcode
  // follows which (as in CPython's interpreter), where the one shared jump of a switch was
  // mispredicted on torch's repeating per-tensor opcode pattern. A handler keeps no local with
  // a destructor: an indirect goto may not leave the scope of one.
  template <bool Budgeted> PickleAnalysis walk() {
    HotState h{.in = Cursor(bytes_),
               .stack = stack_.data(),
               .capacity = static_cast<uint32_t>(stack_.size()),
               .memo = memo_dense_.data(),
               .marks = marks_.data(),
               .mark_capacity = static_cast<uint32_t>(marks_.size()),
               .opcodes_left = limits_.max_opcodes};
    // `handlers` holds each opcode's handler. The table dispatched through starts with every
    // entry at op_first_use, which notes where its opcode is first used and then points the
    // entry at the handler: the check is made once per opcode code, not once per opcode read.
    Handlers handlers;
    handlers.fill(&&op_unknown);
#define LOADMATRIX_SET_HANDLER(name, code, protocol, handler, effect) handlers[code] = &&handler;
    LOADMATRIX_PICKLE_OPCODES(LOADMATRIX_SET_HANDLER)
#undef LOADMATRIX_SET_HANDLER
    Handlers dispatch;
    dispatch.fill(&&op_first_use);
    goto* next_handler<Budgeted>(h, dispatch);
  op_first_use : {
    auto opcode = static_cast<uint8_t>(*opcode_at_);
    note_first_use(opcode);
    dispatch[opcode] = handlers[opcode];
    goto* handlers[opcode];
  }
  op_stop:
    memo_used_ = h.memo_used;
    return finish(h.in.offset());
  op_proto: // PROTO
    analysis_.protocol = h.in.u8();
    if (analysis_.protocol > 5) {
      fail("unsupported pickle protocol {}", analysis_.protocol);
    }
    goto* next_handler<Budgeted>(h, dispatch);
  op_frame: // FRAME: a length prefix only
    h.in.take(8);
    goto* next_handler<Budgeted>(h, dispatch);
  op_mark: // MARK
    if (h.mark_count >= limits_.max_marks) [[unlikely]] {
      fail("MARKs nested deeper than {}", limits_.max_marks);
    }
    if (h.mark_count == h.mark_capacity) [[unlikely]] {
      h.marks = grow_marks();
      h.mark_capacity = static_cast<uint32_t>(marks_.size());
    }
    h.marks[h.mark_count++] = h.depth;
    push(h, Value{Value::Kind::mark});
    goto* next_handler<Budgeted>(h, dispatch);
  op_pop: // POP
    if (h.depth > 0 && h.stack[h.depth - 1].kind() == Value::Kind::mark) {
      pop_mark(h);
    } else {
      pop(h);
    }
    goto* next_handler<Budgeted>(h, dispatch);
  op_pop_mark: // POP_MARK
    pop_mark(h);
    goto* next_handler<Budgeted>(h, dispatch);
  op_dup: // DUP
    push(h, top(h));
    goto* next_handler<Budgeted>(h, dispatch);
  op_int_long_float: // INT, LONG, FLOAT (text)
    h.in.line();
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_binint:
    h.in.take(4);
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_binint1:
    h.in.take(1);
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_binint2:
    h.in.take(2);
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_binfloat:
    h.in.take(8);
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_long1:
    h.in.take(h.in.u8());
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_long4:
    h.in.take(h.in.little_endian<4>());
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_none_true_false:
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_string_line: // STRING (quoted repr), UNICODE (raw-unicode-escape)
    push_string(h, h.in.line());
    goto* next_handler<Budgeted>(h, dispatch);
  op_string4: // BINSTRING, BINUNICODE: a 4-byte length
    push_string(h, h.in.take(h.in.little_endian<4>()));
    goto* next_handler_after_push<Budgeted>(h, dispatch);
  op_string1: // SHORT_BINSTRING, SHORT_BINUNICODE: a 1-byte length
    push_string(h, h.in.take(h.in.u8()));
    goto* next_handler_after_push<Budgeted>(h, dispatch);
  op_binunicode8:
    push_string(h, h.in.take(h.in.little_endian<8>()));
    goto* next_handler<Budgeted>(h, dispatch);
  op_binbytes:
    h.in.take(h.in.little_endian<4>());
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_short_binbytes:
    h.in.take(h.in.u8());
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_binbytes8:
    h.in.take(h.in.little_endian<8>());
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_next_buffer: // NEXT_BUFFER
    analysis_.out_of_band_buffers = true;
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_readonly_buffer: // READONLY_BUFFER
    top(h);
    goto* next_handler<Budgeted>(h, dispatch);
  op_empty_container:
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_append:
    pop(h);
    note_target(h, Use::append);
    goto* next_handler<Budgeted>(h, dispatch);
  op_appends:
    pop_mark(h);
    note_target(h, Use::append);
    goto* next_handler<Budgeted>(h, dispatch);
  op_setitems:
    pop_mark(h);
    note_target(h, Use::setitem);
    goto* next_handler<Budgeted>(h, dispatch);
  op_additems:
    pop_mark(h);
    top(h);
    goto* next_handler<Budgeted>(h, dispatch);
  op_setitem:
    pop(h);
    pop(h);
    note_target(h, Use::setitem);
    goto* next_handler<Budgeted>(h, dispatch);
  op_list_dict_frozenset:
    pop_mark(h);
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_tuple:
    push(h, tuple_of(pop_mark(h).first));
    goto* next_handler_after_push<Budgeted>(h, dispatch);
  op_tuple1:
    push(h, tuple_of(pop(h)));
    goto* next_handler_after_push<Budgeted>(h, dispatch);
  op_tuple2:
    pop(h);
    push(h, tuple_of(pop(h)));
    goto* next_handler_after_push<Budgeted>(h, dispatch);
  op_tuple3:
    pop(h);
    pop(h);
    push(h, tuple_of(pop(h)));
    goto* next_handler_after_push<Budgeted>(h, dispatch);
  // GLOBAL module\\nname\\n
  op_global : {
    std::string_view module = h.in.line();
    std::string_view name = h.in.line();
    push(h, name_global(global_name(module, name), Use::referenced));
    goto* next_handler<Budgeted>(h, dispatch);
  }
  // STACK_GLOBAL: the two strings may come straight from the memo
  op_stack_global : {
    Value name = pop(h);
    Value module = pop(h);
    if (name.kind() != Value::Kind::string || module.kind() != Value::Kind::string) {
      fail("STACK_GLOBAL needs two strings");
    }
    push(h,
         name_global(global_name(text_of(module.text()), text_of(name.text())), Use::referenced));
    goto* next_handler<Budgeted>(h, dispatch);
  }
  // EXT1, EXT2, EXT4: copyreg's extension registry
  op_ext1:
    push(h, extension_global(h.in.little_endian<1>()));
    goto* next_handler<Budgeted>(h, dispatch);
  op_ext2:
    push(h, extension_global(h.in.little_endian<2>()));
    goto* next_handler<Budgeted>(h, dispatch);
  op_ext4:
    push(h, extension_global(h.in.little_endian<4>()));
    goto* next_handler<Budgeted>(h, dispatch);
  // REDUCE
  op_reduce : {
    Value args = pop(h);
    Value callable = pop(h);
    use(callable, Use::reduce);
    push(h, made_by(callable, args));
    goto* next_handler_after_push<Budgeted>(h, dispatch);
  }
  // NEWOBJ
  op_newobj : {
    pop(h);
    Value cls = pop(h);
    use(cls, Use::newobj);
    push(h, made_by(cls));
    goto* next_handler<Budgeted>(h, dispatch);
  }
  // NEWOBJ_EX
  op_newobj_ex : {
    pop(h);
    pop(h);
    Value cls = pop(h);
    use(cls, Use::newobj_ex);
    push(h, made_by(cls));
    goto* next_handler<Budgeted>(h, dispatch);
  }
  // BUILD: the state goes into the object below it
  op_build : {
    pop(h);
    Value& object = top(h);
    if (object.kind() == Value::Kind::object || object.kind() == Value::Kind::global) {
      note_global(object, Use::build);
    }
    if (object.kind() == Value::Kind::object && object.global() == numpy_dtype_ &&
        object.text().length > 0) {
      analysis_.numpy_dtype_builds.push_back(
          {std::string(text_of(object.text())), opcode_offset()});
    }
    goto* next_handler<Budgeted>(h, dispatch);
  }
  // INST module\\nname\\n, arguments above a MARK
  op_inst : {
    std::string_view module = h.in.line();
    std::string_view name = h.in.line();
    pop_mark(h);
    Value global = name_global(global_name(module, name), Use::inst);
    push(h, Value{Value::Kind::object, global.global()});
    goto* next_handler<Budgeted>(h, dispatch);
  }
  // OBJ: class and arguments above a MARK
  op_obj : {
    auto items = pop_mark(h);
    if (items.count == 0) {
      fail("OBJ without a class");
    }
    use(items.first, Use::obj);
    push(h, made_by(items.first));
    goto* next_handler<Budgeted>(h, dispatch);
  }
  op_persid: // PERSID
    h.in.line();
    analysis_.persistent_ids = true;
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_binpersid: // BINPERSID
    pop(h);
    analysis_.persistent_ids = true;
    push(h, Value{});
    goto* next_handler<Budgeted>(h, dispatch);
  op_put:
    memo_put(h, decimal(h.in.line()));
    goto* next_handler<Budgeted>(h, dispatch);
  op_binput:
    memo_put(h, h.in.u8());
    goto* next_handler<Budgeted>(h, dispatch);
  op_long_binput:
    memo_put(h, h.in.little_endian<4>());
    goto* next_handler<Budgeted>(h, dispatch);
  op_memoize:
    memo_put(h, h.memo_count);
    goto* next_handler<Budgeted>(h, dispatch);
  op_get:
    memo_get(h, decimal(h.in.line()));
    goto* next_handler<Budgeted>(h, dispatch);
  op_binget:
    memo_get(h, h.in.u8());
    goto* next_handler<Budgeted>(h, dispatch);
  op_long_binget:
    memo_get(h, h.in.little_endian<4>());
    goto* next_handler<Budgeted>(h, dispatch);
  op_unknown:
    fail("unknown opcode 0x{:02x}", static_cast<uint8_t>(*opcode_at_));
  }

private:
  PickleAnalysis finish(size_t end_offset) {
    analysis_.end_offset = end_offset;
    auto used = [](const auto& first_offsets) {
      return std::count_if(first_offsets.begin(), first_offsets.end(),
                           [](size_t at) { return at != kUnused; });
    };
    // Sized once, filled in key order: the flat maps neither grow nor shift. A pickle uses a few
    // dozen of the 256 codes, so those it was seen to use are sorted, not the table scanned.
    std::sort(opcodes_seen_.begin(), opcodes_seen_.begin() + opcodes_seen_count_);
    analysis_.opcodes_used.reserve(opcodes_seen_count_);
    for (size_t i = 0; i < opcodes_seen_count_; ++i) {
      uint8_t code = opcodes_seen_[i];
      analysis_.opcodes_used.emplace_hint(analysis_.opcodes_used.end(), code, first_use_[code]);
    }
    for (size_t index = 0; index < analysis_.globals.size(); ++index) {
      analysis_.globals[index].uses.reserve(static_cast<size_t>(used(uses_[index])));
      for (size_t use = 0; use < kUseNames.size(); ++use) {
        if (uses_[index][use] != kUnused) {
          analysis_.globals[index].uses.emplace_hint(analysis_.globals[index].uses.end(),
                                                     static_cast<Use>(use), uses_[index][use]);
        }
      }
    }
    return std::move(analysis_);
  }

  template <typename... Args>
  [[noreturn, gnu::noinline, gnu::cold]] void fail(fmt::format_string<Args...> what,
                                                   Args&&... args) {
    throw Failure{opcode_offset(), fmt::format(what, std::forward<Args>(args)...)};
  }

  // The stack is a vector used only up to HotState.depth: growing it is the one rare branch, so a
  // push is a compare and a store.
  [[gnu::always_inline]] void push(HotState& h, Value value) {
    if (h.depth == h.capacity) [[unlikely]] {
      h.stack = grow_stack(h.depth);
      h.capacity = static_cast<uint32_t>(stack_.size());
    }
    h.stack[h.depth] = value;
    ++h.depth;
  }
  [[gnu::noinline]] uint32_t* grow_marks() {
    marks_.resize(std::max<size_t>(16, marks_.size() * 2));
    return marks_.data();
  }
  [[gnu::noinline]] Value* grow_stack(uint32_t depth) {
    if (depth >= limits_.max_stack) {
      fail("stack deeper than {}", limits_.max_stack);
    }
    stack_.resize(std::min(stack_.size() * 2, limits_.max_stack));
    return stack_.data();
  }
  [[gnu::always_inline]] Value pop(HotState& h) {
    if (h.depth == 0 || h.stack[h.depth - 1].kind() == Value::Kind::mark) [[unlikely]] {
      fail("stack underflow");
    }
    --h.depth;
    return h.stack[h.depth];
  }
  // Removes everything above the topmost MARK, and the MARK; only the first item is ever
  // needed (a tuple's type code, OBJ's class), so nothing is copied out.
  struct Marked {
    size_t count = 0;
    Value first;
  };
  [[gnu::always_inline]] Marked pop_mark(HotState& h) {
    if (h.mark_count == 0) [[unlikely]] {
      fail("no MARK to pop to");
    }
    // Only MARK pushes a mark (one cannot be memoised or duplicated) and only this pops one,
    // so the recorded position still holds it.
    uint32_t mark = h.marks[--h.mark_count];
    Marked items{h.depth - mark - 1, {}};
    if (items.count > 0) {
      items.first = h.stack[mark + 1];
    }
    h.depth = mark;
    return items;
  }
  [[gnu::always_inline]] Value& top(HotState& h) {
    if (h.depth == 0 || h.stack[h.depth - 1].kind() == Value::Kind::mark) [[unlikely]] {
      fail("stack underflow");
    }
    return h.stack[h.depth - 1];
  }

  // A global the stream names (GLOBAL, STACK_GLOBAL, INST), recorded with its spellings. Torch
  // pickles name each global once and reach it through the memo after, so this is rare.
  Value name_global(const GlobalName& global, Use use) {
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
      }
    }
    Value value{Value::Kind::global, it->second};
    note_global(value, use);
    return value;
  }
  // EXT1/2/4's global: a code in copyreg's extension registry, not a name.
  Value extension_global(uint64_t code) {
    std::string name = fmt::format("extension_registry[{}]", code);
    return name_global({"copyreg." + name, "copyreg", "copyreg." + name}, Use::referenced);
  }
  // A use of a global already named (`value` is the global or an object it made).
  void note_global(const Value& value, Use use) {
    size_t& first = uses_[value.global()][static_cast<size_t>(use)];
    if (first == kUnused) {
      first = opcode_offset();
    }
  }
  // APPEND/SETITEM into an object a global made: torch 2.14 checks the target's type.
  void note_target(HotState& h, Use use) {
    const Value& target = top(h);
    if (target.kind() == Value::Kind::object) {
      note_global(target, use);
    }
  }
  void use(const Value& callable, Use how) {
    if (callable.kind() == Value::Kind::global) {
      note_global(callable, how);
    }
  }
  Value made_by(const Value& callable, const Value& args = {}) {
    if (callable.kind() != Value::Kind::global) {
      return {};
    }
    return Value{Value::Kind::object, callable.global(),
                 args.kind() == Value::Kind::tuple ? args.text() : TextRef{}};
  }
  // A tuple of `items`: remembered by its first item when that is a string.
  Value tuple_of(const Value& first) {
    return Value{Value::Kind::tuple, 0,
                 first.kind() == Value::Kind::string ? first.text() : TextRef{}};
  }

  // Memo keys are small and dense in practice (0, 1, 2, ...): DenseMemo holds those, a map the
  // rest, so a hostile key of 2^32 costs one map node, not 32 GB.
  [[gnu::always_inline]] Value* memo_slot(HotState& h, uint64_t key, bool create) {
    if (key < DenseMemo::kEntries) [[likely]] {
      return &h.memo[key];
    }
    return memo_slot_sparse(key, create);
  }
  [[gnu::noinline]] Value* memo_slot_sparse(uint64_t key, bool create) {
    if (!create) {
      auto it = memo_sparse_.find(key);
      return it == memo_sparse_.end() ? nullptr : &it->second;
    }
    return &memo_sparse_.try_emplace(key, Value{Value::Kind::absent}).first->second;
  }
  [[gnu::always_inline]] void memo_put(HotState& h, uint64_t key) {
    Value* slot = memo_slot(h, key, true);
    h.memo_used = std::max(h.memo_used, key + 1);
    if (slot->kind() == Value::Kind::absent) {
      if (h.memo_count >= limits_.max_memo) [[unlikely]] {
        fail("memo larger than {}", limits_.max_memo);
      }
      ++h.memo_count;
    }
    *slot = top(h);
  }
  [[gnu::always_inline]] void memo_get(HotState& h, uint64_t key) {
    Value* slot = memo_slot(h, key, false);
    if (slot == nullptr || slot->kind() == Value::Kind::absent) [[unlikely]] {
      fail("memo key {} was never stored", key);
    }
    push(h, *slot);
  }
  uint64_t decimal(std::string_view text) {
    uint64_t value = 0;
    if (text.empty() || text.size() > 18) {
      fail("bad decimal argument");
    }
    for (char c : text) {
      if (c < '0' || c > '9') {
        fail("bad decimal argument");
      }
      value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    return value;
  }
  // Strings are kept only as long as a global's name can be: a multi-GB string in a hostile
  // pickle costs nothing to skip and must not be copied. A string more than 4 GB into a pickle
  // cannot be referenced by a one-word value and is not kept either (as a global's name it
  // makes STACK_GLOBAL fail, which the scan reports).
  [[gnu::always_inline]] void push_string(HotState& h, std::string_view text) {
    auto offset = static_cast<uint64_t>(text.data() - bytes_.data());
    bool kept = text.size() <= Value::kMaxText && offset <= UINT32_MAX;
    push(h, kept ? Value{Value::Kind::string,
                         0,
                         {static_cast<uint32_t>(offset), static_cast<uint32_t>(text.size())}}
                 : Value{});
  }
  std::string_view text_of(TextRef text) const {
    return bytes_.substr(text.offset, text.length);
  }

  std::string_view bytes_;
  PickleLimits limits_;
  WalkMemory& memory_;
  PickleAnalysis analysis_;
  std::vector<Value> stack_;    // its data and size are HotState's during the walk
  std::vector<uint32_t> marks_; // likewise
  DenseMemo& memo_dense_;       // HotState's memo during the walk
  std::unordered_map<uint64_t, Value> memo_sparse_;
  uint64_t memo_used_ = ~uint64_t{0}; // HotState's memo_used, once the walk has finished
  std::unordered_map<std::string, uint32_t> index_;
  static constexpr size_t kUnused = ~size_t{0};
  std::vector<std::array<size_t, kUseNames.size()>> uses_; // per global: each use's first offset
  uint32_t numpy_dtype_ = ~uint32_t{0};                    // its index, once named
  std::array<size_t, 256> first_use_ = [] {
    std::array<size_t, 256> table{};
    table.fill(kUnused);
    return table;
  }();
  std::array<uint8_t, 256> opcodes_seen_; // the codes first_use_ holds, [0, opcodes_seen_count_)
  size_t opcodes_seen_count_ = 0;
  // Where the opcode being walked starts: stored as the cursor holds it, made an offset only
  // where one is reported.
  const char* opcode_at_ = nullptr;
  size_t opcode_offset() const {
    return static_cast<size_t>(opcode_at_ - bytes_.data());
  }
};

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
  } catch (const Failure& failure) {
    return Error{fmt::format("offset {}: {}", failure.offset, failure.what)};
  }
}

} // namespace loadmatrix
