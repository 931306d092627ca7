#include "pickle/object_paths.h"

#include "pickle/checkpoint_file.h"
#include "pickle/global_name.h"
#include "pickle/pickle_walk.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <fmt/core.h>
#include <optional>
#include <unordered_map>
#include <vector>

namespace loadmatrix {

namespace {

constexpr uint32_t kNoNode = UINT32_MAX;
constexpr size_t kMaxKeyText = 64;    // a key longer than this is shown cut, with "…"
constexpr size_t kMaxPathSteps = 256; // deeper paths (or memo cycles) are cut
// Values of the saved object tracked at once: each costs a node (about 40 bytes), whatever the
// opcode that made it (TUPLE1 makes one per byte), so a small hostile file cannot make the walk
// take gigabytes. A file past it gets no paths, and says so.
constexpr size_t kMaxNodes = 2'000'000;

// How a value sits in its parent.
enum class Step : uint8_t {
  none,   // the root, or not placed yet
  same,   // inside a call's arguments or a non-dict state: shown at the parent
  key,    // a dict key or an attribute: text
  index,  // a list/tuple position or an int key: number
  opaque, // a key that is neither a string nor an int
};

struct Node {
  uint32_t parent = kNoNode;
  Step step = Step::none;
  bool attributes = false; // a BUILD state dict: its keys are the parent's attributes
  bool arguments = false;  // a call's arguments or a non-dict state: its positions are not
                           // places in the saved object
  bool keyed = false;      // something was put into it under a key: a dict
  int32_t global = -1;     // the global it is, or that made it (an index into names_)
  uint32_t appended = 0;   // items APPENDed so far: the next one's position
  std::string_view text;   // a key: a view into the pickle, which outlives the walk
  long long number = 0;
};

struct Value {
  enum class Kind : uint8_t { absent, mark, node, text, integer, other };
  Kind kind = Kind::other;
  uint32_t node = kNoNode; // every value that can hold or be a global has one
  std::string_view text;   // a string's bytes: a view into the pickle (copies cost nothing)
  long long number = 0;
};
using K = Value::Kind;

// Walks the pickle as pickle_analysis does (PickleWalk reads the opcodes), keeping for each value
// the node of the saved object it is, and for each node where it was put.
class PathWalker : public PickleWalk<PathWalker, Value, std::map<std::string, std::string>> {
public:
  PathWalker(std::string_view bytes, const PickleLimits& limits)
      : PickleWalk(bytes, limits, {}, {}) {}

private:
  friend class PickleWalk<PathWalker, Value, std::map<std::string, std::string>>;
  // Past the opcode budget, the error names the last opcode walked, not the one past it: what
  // this walker's errors have always said.
  static constexpr bool kOverBudgetAtLastOpcode = true;

  void start(State&) {}
  void saw_opcode(uint8_t) {}
  void protocol(uint8_t protocol) {
    if (protocol > 5) {
      fail("unsupported pickle protocol");
    }
  }
  std::map<std::string, std::string> stop(State& h) { return paths(pop(h)); }

  static Value mark() { return {K::mark, kNoNode, {}, 0}; }
  static bool is_mark(const Value& value) { return value.kind == K::mark; }
  static bool is_absent(const Value& value) { return value.kind == K::absent; }
  Value* memo_slot(State&, uint64_t key, bool create) {
    if (create) {
      return &memo_.try_emplace(key, Value{K::absent, kNoNode, {}, 0}).first->second;
    }
    auto it = memo_.find(key);
    return it == memo_.end() ? nullptr : &it->second;
  }
  uint64_t decimal(std::string_view line) const {
    uint64_t value = 0;
    auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (error != std::errc() || end != line.data() + line.size()) {
      fail("bad decimal argument");
    }
    return value;
  }

  // --- Values that hold nothing, and the keys a path names -------------------------------------
  static Value constant() { return {}; }
  static Value scalar() { return {}; }
  static Value next_buffer() { return {}; }
  static Value integer(long long number) { return {K::integer, kNoNode, {}, number}; }
  static Value int_line(std::string_view line, bool long_line) { // INT, LONG
    long long number = 0;
    auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), number);
    if (error == std::errc() && (end == line.data() + line.size() || (long_line && *end == 'L'))) {
      return integer(number);
    }
    return {};
  }
  static Value string(std::string_view text) { return {K::text, kNoNode, text, 0}; }
  static Value quoted_string(std::string_view line) { return string(unquote(line)); }
  static bool is_string(const Value& value) { return value.kind == K::text; }
  static std::string_view text(const Value& value) { return value.text; }

  // --- Values that are places in the saved object ----------------------------------------------
  Value empty_container() { return new_node(); }
  Value persistent_id() { return new_node(); }
  void binpersid(State& h, const Value& id) { // torch's storage references: ('storage', ...)
    uint32_t made = push_node(h);
    absorb(id, made);
  }
  void list(State& h, const Items& items) { // LIST, FROZENSET
    uint32_t made = push_node(h);
    for (size_t i = 0; i < items.count; ++i) {
      place(items[i], made, Step::index, {}, static_cast<long long>(i));
    }
  }
  void tuple(State& h, const Items& items) { list(h, items); }
  void dict(State& h, const Items& items) {
    uint32_t made = push_node(h);
    for (size_t i = 0; i + 1 < items.count; i += 2) {
      place_under_key(items[i + 1], made, items[i]);
    }
  }
  void append(State& h, const Value& item) { append_to(top(h), item); }
  void appends(State& h, const Items& items) {
    for (const auto& item : items) {
      append_to(top(h), item);
    }
  }
  void setitem(State& h, const Value& key, const Value& value) {
    place_under_key(value, top(h).node, key);
  }
  void setitems(State& h, const Items& items) {
    uint32_t target = top(h).node;
    for (size_t i = 0; i + 1 < items.count; i += 2) {
      place_under_key(items[i + 1], target, items[i]);
    }
  }
  void additems(State& h, const Items& items) {
    for (const auto& item : items) {
      place(item, top(h).node, Step::opaque, {}, 0);
    }
  }

  // --- Globals and what they make ---------------------------------------------------------------
  void push_global(State& h, const GlobalName& global) {
    uint32_t id = push_node(h);
    const std::string& name = global.name;
    if (name_index_.size() >= limits_.max_globals && !name_index_.contains(name)) {
      fail("more than {} distinct globals", limits_.max_globals);
    }
    auto [it, added] = name_index_.try_emplace(name, names_.size());
    if (added) {
      names_.push_back(&it->first);
    }
    nodes_[id].global = static_cast<int32_t>(it->second);
    uses_.emplace_back(it->second, id);
  }
  void reduce(State& h, const Value& callable, const Value& args) { make(h, callable, &args, 1); }
  void newobj(State& h, const Value& cls, const Value& args) { make(h, cls, &args, 1); }
  void newobj_ex(State& h, const Value& cls, const Value& args, const Value& kwargs) {
    std::array<Value, 2> inputs{args, kwargs};
    make(h, cls, inputs.data(), inputs.size());
  }
  void inst(State& h, const GlobalName& global, const Items& arguments) {
    push_global(h, global);
    Value callable = pop(h);
    make(h, callable, arguments.first, arguments.count);
  }
  void obj(State& h, const Items& items) {
    Value callable = items[0];
    make(h, callable, items.first + 1, items.count - 1);
  }
  void build(const Value& object_value, const Value& state) {
    uint32_t object = object_value.node;
    if (state.node != kNoNode && object != kNoNode && state.node != object &&
        nodes_[state.node].parent == kNoNode) {
      // A dict state sets attributes; a (state, slots) tuple is the object's own too.
      nodes_[state.node].attributes = true;
      nodes_[state.node].arguments = !state_is_dict(state.node);
      set_parent(state.node, object, Step::same, {}, 0);
    }
  }

  // --- What the hooks share ---------------------------------------------------------------------
  static std::string_view unquote(std::string_view line) {
    if (line.size() >= 2 && (line.front() == '\'' || line.front() == '"') &&
        line.back() == line.front()) {
      return line.substr(1, line.size() - 2);
    }
    return line;
  }

  Value new_node() {
    if (nodes_.size() >= kMaxNodes) {
      fail("more than {} objects to place", kMaxNodes);
    }
    nodes_.emplace_back();
    return {K::node, static_cast<uint32_t>(nodes_.size() - 1), {}, 0};
  }
  uint32_t push_node(State& h) {
    Value made = new_node();
    push(h, made);
    return made.node;
  }

  // A call or a class construction: the object made is where its callable (a global) is used,
  // and what went into it is shown there too.
  void make(State& h, const Value& callable, const Value* inputs, size_t count) {
    uint32_t made = push_node(h);
    if (callable.node != kNoNode && nodes_[callable.node].global >= 0) {
      nodes_[made].global = nodes_[callable.node].global;
      uses_.emplace_back(static_cast<size_t>(nodes_[made].global), made);
    }
    place(callable, made, Step::same, {}, 0);
    for (size_t i = 0; i < count; ++i) {
      absorb(inputs[i], made);
    }
  }

  // What went into the object `made` (a call's arguments, a storage reference's id): shown at
  // that object, its own positions being no places in the saved object.
  void absorb(const Value& input, uint32_t made) {
    if (input.node != kNoNode && nodes_[input.node].parent == kNoNode) {
      nodes_[input.node].arguments = true;
    }
    place(input, made, Step::same, {}, 0);
  }

  // A node made by `}` or DICT (or filled by SETITEM): dicts are pushed as nodes, like lists,
  // so it is told by what was put into it.
  bool state_is_dict(uint32_t node) const { return nodes_[node].keyed; }

  void append_to(const Value& list, const Value& item) {
    if (list.node == kNoNode) {
      return;
    }
    place(item, list.node, Step::index, {}, nodes_[list.node].appended++);
  }

  void place_under_key(const Value& value, uint32_t parent, const Value& key) {
    if (parent != kNoNode) {
      nodes_[parent].keyed = true;
    }
    if (key.kind == K::text) {
      place(value, parent, Step::key, key.text, 0);
    } else if (key.kind == K::integer) {
      place(value, parent, Step::index, {}, key.number);
    } else {
      place(value, parent, Step::opaque, {}, 0);
    }
  }

  void place(const Value& child, uint32_t parent, Step step, std::string_view text,
             long long number) {
    if (child.node != kNoNode && parent != kNoNode) {
      set_parent(child.node, parent, step, text, number);
    }
  }

  // A value keeps the first place it was put: a memoised object met again stays where it was.
  void set_parent(uint32_t child, uint32_t parent, Step step, std::string_view text,
                  long long number) {
    Node& node = nodes_[child];
    if (node.parent != kNoNode || child == parent) {
      return;
    }
    node.parent = parent;
    node.step = step;
    node.text = text;
    node.number = number;
  }

  static std::string key_text(std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size() && i < kMaxKeyText; ++i) {
      auto c = static_cast<unsigned char>(text[i]);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20 || c == 0x7f) {
        out += fmt::format("\\x{:02x}", c);
      } else {
        out += static_cast<char>(c);
      }
    }
    if (text.size() > kMaxKeyText) {
      out += "…";
    }
    return out;
  }

  // --- The paths, once the walk is done ---------------------------------------------------------
  // The path of `node` below `root`, or nothing when it is not reachable from it. A node found
  // unreachable is remembered, so each is walked up from at most once in vain: a file of
  // millions of uses that lead nowhere costs one pass, not one per use.
  std::optional<std::string> path_of(uint32_t node, uint32_t root) {
    std::vector<uint32_t> chain;
    uint32_t at = node;
    for (size_t hops = 0; at != root; ++hops) {
      if (unreachable_[at] || nodes_[at].parent == kNoNode || hops == kMaxPathSteps) {
        for (uint32_t visited : chain) {
          unreachable_[visited] = true;
        }
        unreachable_[at] = true;
        return std::nullopt;
      }
      chain.push_back(at);
      at = nodes_[at].parent;
    }
    std::string out;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      const Node& step = nodes_[*it];
      if (nodes_[step.parent].arguments) {
        continue;
      }
      switch (step.step) {
      case Step::key:
        out += nodes_[step.parent].attributes ? "." + key_text(step.text)
                                              : "[\"" + key_text(step.text) + "\"]";
        break;
      case Step::index:
        out += fmt::format("[{}]", step.number);
        break;
      case Step::opaque:
        out += "[…]";
        break;
      case Step::same:
      case Step::none:
        break;
      }
    }
    return out;
  }

  [[gnu::noinline]] std::map<std::string, std::string> paths(const Value& result) {
    std::map<std::string, std::string> out;
    if (result.node == kNoNode) {
      return out;
    }
    unreachable_.assign(nodes_.size(), false);
    for (const auto& [index, node] : uses_) {
      const std::string& name = *names_[index];
      if (out.contains(name)) {
        continue;
      }
      if (auto path = path_of(node, result.node)) {
        out.emplace(name, std::move(*path));
      }
    }
    return out;
  }

  std::vector<Node> nodes_;
  std::unordered_map<uint64_t, Value> memo_;
  std::vector<bool> unreachable_;
  std::map<std::string, size_t> name_index_;
  std::vector<const std::string*> names_;         // by index, into name_index_'s keys
  std::vector<std::pair<size_t, uint32_t>> uses_; // global -> a value it is or made, in order
};

} // namespace

Expected<std::map<std::string, std::string>> global_object_paths(std::string_view pickle,
                                                                 const PickleLimits& limits) {
  try {
    return PathWalker(pickle, limits).run();
  } catch (const PickleFailure& failure) {
    return Error{fmt::format("offset {}: {}", failure.offset, failure.what)};
  } catch (const std::bad_alloc&) {
    return Error{"out of memory placing its globals"};
  }
}

Expected<std::map<std::string, std::string>>
checkpoint_object_paths(const std::filesystem::path& file) {
  auto checkpoint = read_checkpoint_file(file);
  if (!checkpoint) {
    return Error{checkpoint.error().message};
  }
  std::map<std::string, std::string> out;
  if (checkpoint->format == CheckpointFormat::torchscript) {
    return out;
  }
  for (const auto& member : checkpoint->pickles) {
    if (checkpoint->format == CheckpointFormat::torch_zip && member.name != "data.pkl" &&
        !member.name.ends_with("/data.pkl")) {
      continue;
    }
    auto paths = global_object_paths(member.bytes);
    if (!paths) {
      return Error{fmt::format("{}: {}: {}", file.string(), member.name, paths.error().message)};
    }
    out.merge(*paths);
  }
  return out;
}

const std::string* object_path_for(const std::map<std::string, std::string>& paths,
                                   const std::string& global) {
  auto it = paths.find(global);
  if (it == paths.end() && global.starts_with("numpy.dtypes.")) {
    it = paths.find("numpy.dtype");
  }
  return it == paths.end() ? nullptr : &it->second;
}

} // namespace loadmatrix
