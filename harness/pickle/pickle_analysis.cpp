#include "pickle/pickle_analysis.h"

#include "pickle/byte_cursor.h"
#include "pickle/global_name.h"
#include "pickle/pickle_opcodes.h"
#include "pickle/pickle_walk.h"
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

// Walks one pickle symbolically, as pickletools.genops reads it, keeping for each stack slot only
// what SymbolicValue can say. PickleWalk reads the opcodes; what each does to the analysis is
// below, grouped by what it does.
class Walker : public PickleWalk<Walker, Value, PickleAnalysis> {
public:
  // Takes `memory`'s buffers for the walk and gives them back, memo cleared, when done.
  Walker(std::string_view bytes, const PickleLimits& limits, WalkMemory& memory)
      : PickleWalk(bytes, limits, std::move(memory.stack), std::move(memory.marks)),
        memory_(memory), memo_dense_(memory.memo_dense),
        memo_sparse_(std::move(memory.memo_sparse)) {}
  Walker(const Walker&) = delete;
  Walker& operator=(const Walker&) = delete;
  ~Walker();

private:
  friend class PickleWalk<Walker, Value, PickleAnalysis>;
  static constexpr bool kOverBudgetAtLastOpcode = false;

  void start(State& h) { h.memo = memo_dense_.data(); }
  [[gnu::always_inline]] void saw_opcode(uint8_t opcode) {
    if (first_use_[opcode] == kUnused) [[unlikely]] {
      first_use_[opcode] = opcode_offset();
      opcodes_seen_[opcodes_seen_count_++] = opcode;
    }
  }
  void protocol(uint8_t protocol) {
    analysis_.protocol = protocol;
    if (analysis_.protocol > 5) {
      fail("unsupported pickle protocol {}", analysis_.protocol);
    }
  }
  PickleAnalysis stop(State& h) {
    memo_used_ = h.memo_used;
    return finish(h.in.offset());
  }

  static Value mark() { return Value{Kind::mark}; }
  static bool is_mark(const Value& value) { return value.kind() == Kind::mark; }
  static bool is_absent(const Value& value) { return value.kind() == Kind::absent; }

  // --- Values whose contents do not matter: pushed as `other` --------------------------------
  static Value constant() { return {}; }        // None, True, False
  static Value empty_container() { return {}; } // filled later, if at all
  static Value scalar() { return {}; }
  static Value integer(long long) { return {}; }
  static Value int_line(std::string_view, bool) { return {}; }
  Value next_buffer() {
    analysis_.out_of_band_buffers = true;
    return {};
  }
  Value persistent_id() {
    analysis_.persistent_ids = true;
    return {};
  }
  void binpersid(State& h, const Value& id) {
    analysis_.persistent_ids = true;
    if (analysis_.foreign_persistent_id.empty() && id.kind() == Kind::tuple &&
        id.text().length > 0) {
      std::string_view kind = text_of(id.text());
      if (kind != "storage") {
        analysis_.foreign_persistent_id = kind.empty() ? "?" : std::string(kind);
        analysis_.foreign_persistent_at = opcode_offset();
      }
    }
    push(h, Value{});
  }

  // --- Strings: kept, for STACK_GLOBAL's names and a numpy dtype's type code -------------------
  // A string is kept only as long as a global's name can be: a multi-GB string in a hostile
  // pickle costs nothing to skip and must not be copied. One more than 4 GB into a pickle cannot
  // be referenced by a one-word value and is not kept either (as a global's name it makes
  // STACK_GLOBAL fail, which the scan reports).
  Value string(std::string_view text) const {
    auto offset = static_cast<uint64_t>(text.data() - bytes_.data());
    bool kept = text.size() <= Value::kMaxText && offset <= UINT32_MAX;
    return kept ? Value{Kind::string,
                        0,
                        {static_cast<uint32_t>(offset), static_cast<uint32_t>(text.size())}}
                : Value{};
  }
  Value quoted_string(std::string_view line) const { return string(line); } // quotes and all
  static bool is_string(const Value& value) { return value.kind() == Kind::string; }
  std::string_view text(const Value& value) const { return text_of(value.text()); }

  // --- Containers -------------------------------------------------------------------------------
  void list(State& h, const Items&) { push(h, Value{}); } // LIST, FROZENSET
  void dict(State& h, const Items&) { push(h, Value{}); }
  void tuple(State& h, const Items& items) {
    push(h, items.count > 0 ? tuple_of(items[0], items[items.count - 1], items.count)
                            : tuple_of({}, {}, 0));
  }
  void append(State& h, const Value&) { note_target(h, UseKind::append); }
  void appends(State& h, const Items&) { note_target(h, UseKind::append); }
  void setitem(State& h, const Value&, const Value&) { note_target(h, UseKind::setitem); }
  void setitems(State& h, const Items&) { note_target(h, UseKind::setitem); }
  void additems(State& h, const Items&) { top(h); }

  // --- Globals: named, then called, built or instantiated ------------------------------------
  void push_global(State& h, const GlobalName& global) {
    push(h, name_global(global, UseKind::referenced));
  }
  void reduce(State& h, const Value& callable, const Value& args) {
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
  void newobj(State& h, const Value& cls, const Value&) {
    use(cls, UseKind::newobj);
    push(h, made_by(cls));
  }
  void newobj_ex(State& h, const Value& cls, const Value&, const Value&) {
    use(cls, UseKind::newobj_ex);
    push(h, made_by(cls));
  }
  void inst(State& h, const GlobalName& name, const Items&) {
    Value global = name_global(name, UseKind::inst);
    push(h, Value{Kind::object, global.global()});
  }
  void obj(State& h, const Items& items) {
    use(items[0], UseKind::obj);
    push(h, made_by(items[0]));
  }
  void build(const Value& object, const Value&) {
    if (object.kind() == Kind::object || object.kind() == Kind::global) {
      note_global(object, UseKind::build);
    }
    if (object.kind() == Kind::object && object.global() == numpy_dtype_ &&
        object.text().length > 0) {
      analysis_.numpy_dtype_builds.push_back(
          {std::string(text_of(object.text())), opcode_offset()});
    }
  }

  // --- What the hooks share ---------------------------------------------------------------------
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
  void note_target(State& h, UseKind use) {
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
  static uint32_t tuple_length(const Value& tuple) { return tuple.global() & 0xff; }
  // The length of a tuple's last item, when that is a tuple; -1 otherwise.
  static int last_item_length(const Value& tuple) {
    return static_cast<int>(tuple.global() >> 8) - 1;
  }

  // --- The memo: dense keys in the per-thread mapping, the rest in a hash map
  // ---------------------
  Value* memo_slot(State& h, uint64_t key, bool create) {
    if (key < DenseMemo::kEntries) [[likely]] {
      return &h.memo[key];
    }
    return memo_slot_sparse(key, create);
  }
  [[gnu::noinline]] Value* memo_slot_sparse(uint64_t key, bool create);
  [[gnu::noinline]] uint64_t decimal(std::string_view text); // PUT's and GET's text key

  std::string_view text_of(TextRef text) const { return bytes_.substr(text.offset, text.length); }

  [[gnu::noinline]] PickleAnalysis finish(size_t end_offset);

  WalkMemory& memory_;
  PickleAnalysis analysis_;
  DenseMemo& memo_dense_; // State's memo during the walk
  std::unordered_map<uint64_t, Value> memo_sparse_;
  uint64_t memo_used_ = ~uint64_t{0}; // State's memo_used once the walk finished; all if not
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
