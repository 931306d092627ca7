#include "pickle/object_paths.h"

#include "pickle/byte_cursor.h"
#include "pickle/checkpoint_file.h"
#include "pickle/global_name.h"

#include <charconv>
#include <cstdint>
#include <fmt/core.h>
#include <optional>
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
  enum class Kind : uint8_t { mark, node, text, integer, other };
  Kind kind = Kind::other;
  uint32_t node = kNoNode; // every value that can hold or be a global has one
  std::string_view text;   // a string's bytes: a view into the pickle (copies cost nothing)
  long long number = 0;
};
using K = Value::Kind;

class PathWalker {
public:
  PathWalker(std::string_view bytes, const PickleLimits& limits) : in_(bytes), limits_(limits) {}

  std::map<std::string, std::string> walk() {
    for (size_t opcodes = 0;; ++opcodes) {
      if (opcodes == limits_.max_opcodes) {
        fail(fmt::format("more than {} opcodes", limits_.max_opcodes));
      }
      at_ = in_.offset();
      uint8_t opcode = in_.u8();
      if (opcode == '.') {
        return paths(pop());
      }
      step(opcode);
    }
  }

private:
  void step(uint8_t opcode) {
    switch (opcode) {
    case '(':
      if (++marks_ > limits_.max_marks) {
        fail(fmt::format("MARKs nested deeper than {}", limits_.max_marks));
      }
      push({K::mark, kNoNode, {}, 0});
      return;
    case '0':
      if (!stack_.empty() && stack_.back().kind == K::mark) {
        items_to_mark();
      } else {
        pop();
      }
      return;
    case '1':
      items_to_mark();
      return;
    case '2':
      push(top());
      return;
    case 'I':
    case 'L': {
      std::string_view line = in_.line();
      long long number = 0;
      auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), number);
      if (error == std::errc() &&
          (end == line.data() + line.size() || (opcode == 'L' && *end == 'L'))) {
        push({K::integer, kNoNode, {}, number});
      } else {
        push({});
      }
      return;
    }
    case 'F':
      in_.line();
      push({});
      return;
    case 'N':
    case 0x88:
    case 0x89:
      push({});
      return;
    case ')':
    case ']':
    case '}':
    case 0x8f:
      push_node();
      return;
    case 'G':
      in_.take(8);
      push({});
      return;
    case 'J':
      push({K::integer,
            kNoNode,
            {},
            static_cast<int32_t>(static_cast<uint32_t>(in_.little_endian<4>()))});
      return;
    case 'K':
      push({K::integer, kNoNode, {}, in_.u8()});
      return;
    case 'M':
      push({K::integer, kNoNode, {}, static_cast<long long>(in_.little_endian<2>())});
      return;
    case 0x8a:
    case 'C':
      in_.take(in_.u8());
      push({});
      return;
    case 0x8b:
    case 'B':
      in_.take(in_.little_endian<4>());
      push({});
      return;
    case 0x8e:
    case 0x96:
      in_.take(in_.little_endian<8>());
      push({});
      return;
    case 'S':
    case 'V':
      push_text(unquote(in_.line()));
      return;
    case 'U':
    case 0x8c:
      push_text(in_.take(in_.u8()));
      return;
    case 'T':
    case 'X':
      push_text(in_.take(in_.little_endian<4>()));
      return;
    case 0x8d:
      push_text(in_.take(in_.little_endian<8>()));
      return;
    case 0x97:
      push({});
      return;
    case 0x98:
      top();
      return;
    case 'l':
    case 't':
    case 0x91: {
      std::vector<Value> items = items_to_mark();
      uint32_t made = push_node();
      for (size_t i = 0; i < items.size(); ++i) {
        place(items[i], made, Step::index, {}, static_cast<long long>(i));
      }
      return;
    }
    case 'd': {
      std::vector<Value> items = items_to_mark();
      uint32_t made = push_node();
      for (size_t i = 0; i + 1 < items.size(); i += 2) {
        place_under_key(items[i + 1], made, items[i]);
      }
      return;
    }
    case 0x85:
    case 0x86:
    case 0x87: {
      size_t count = opcode - 0x84u;
      std::vector<Value> items(count);
      for (size_t i = count; i-- > 0;) {
        items[i] = pop();
      }
      uint32_t made = push_node();
      for (size_t i = 0; i < count; ++i) {
        place(items[i], made, Step::index, {}, static_cast<long long>(i));
      }
      return;
    }
    case 'a': {
      Value item = pop();
      append(top(), item);
      return;
    }
    case 'e': {
      std::vector<Value> items = items_to_mark();
      for (const auto& item : items) {
        append(top(), item);
      }
      return;
    }
    case 's': {
      Value value = pop();
      Value key = pop();
      place_under_key(value, top().node, key);
      return;
    }
    case 'u': {
      std::vector<Value> items = items_to_mark();
      uint32_t target = top().node;
      for (size_t i = 0; i + 1 < items.size(); i += 2) {
        place_under_key(items[i + 1], target, items[i]);
      }
      return;
    }
    case 0x90: {
      std::vector<Value> items = items_to_mark();
      for (const auto& item : items) {
        place(item, top().node, Step::opaque, {}, 0);
      }
      return;
    }
    case 'c': {
      std::string_view module = in_.line();
      std::string_view name = in_.line();
      push_global(global_name(module, name).name);
      return;
    }
    case 0x93: {
      Value name = pop();
      Value module = pop();
      if (name.kind != K::text || module.kind != K::text) {
        fail("STACK_GLOBAL needs two strings");
      }
      push_global(global_name(module.text, name.text).name);
      return;
    }
    case 0x82:
      push_global(extension_global_name(in_.u8()).name);
      return;
    case 0x83:
      push_global(extension_global_name(in_.little_endian<2>()).name);
      return;
    case 0x84:
      push_global(extension_global_name(in_.little_endian<4>()).name);
      return;
    case 'R':
    case 0x81: {
      Value arguments = pop();
      Value callable = pop();
      make(callable, {arguments});
      return;
    }
    case 0x92: {
      Value keywords = pop();
      Value arguments = pop();
      Value callable = pop();
      make(callable, {arguments, keywords});
      return;
    }
    case 'i': {
      std::string_view module = in_.line();
      std::string_view name = in_.line();
      std::vector<Value> arguments = items_to_mark();
      push_global(global_name(module, name).name);
      make(pop(), arguments);
      return;
    }
    case 'o': {
      std::vector<Value> items = items_to_mark();
      if (items.empty()) {
        fail("OBJ without a class");
      }
      Value callable = items.front();
      make(callable, std::vector<Value>(items.begin() + 1, items.end()));
      return;
    }
    case 'b': {
      Value state = pop();
      uint32_t object = top().node;
      if (state.node != kNoNode && object != kNoNode && state.node != object &&
          nodes_[state.node].parent == kNoNode) {
        // A dict state sets attributes; a (state, slots) tuple is the object's own too.
        nodes_[state.node].attributes = true;
        nodes_[state.node].arguments = !state_is_dict(state.node);
        set_parent(state.node, object, Step::same, {}, 0);
      }
      return;
    }
    case 'P':
      in_.line();
      push_node();
      return;
    case 'Q': { // torch's storage references: ('storage', FloatStorage, key, ...)
      Value id = pop();
      absorb(id, push_node());
      return;
    }
    case 'p':
      memo_put(decimal(in_.line()));
      return;
    case 'q':
      memo_put(in_.u8());
      return;
    case 'r':
      memo_put(in_.little_endian<4>());
      return;
    case 0x94:
      memo_put(memo_.size());
      return;
    case 'g':
      memo_get(decimal(in_.line()));
      return;
    case 'h':
      memo_get(in_.u8());
      return;
    case 'j':
      memo_get(in_.little_endian<4>());
      return;
    case 0x80:
      if (in_.u8() > 5) {
        fail("unsupported pickle protocol");
      }
      return;
    case 0x95:
      in_.take(8);
      return;
    default:
      fail(fmt::format("unknown opcode 0x{:02x}", opcode));
    }
  }

  [[noreturn]] void fail(std::string what) const { throw PickleFailure{at_, std::move(what)}; }

  static std::string_view unquote(std::string_view line) {
    if (line.size() >= 2 && (line.front() == '\'' || line.front() == '"') &&
        line.back() == line.front()) {
      return line.substr(1, line.size() - 2);
    }
    return line;
  }

  uint64_t decimal(std::string_view line) const {
    uint64_t value = 0;
    auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (error != std::errc() || end != line.data() + line.size()) {
      fail("bad decimal argument");
    }
    return value;
  }

  void push(Value value) {
    if (stack_.size() >= limits_.max_stack) {
      fail(fmt::format("stack deeper than {}", limits_.max_stack));
    }
    stack_.push_back(std::move(value));
  }
  uint32_t push_node() {
    if (nodes_.size() >= kMaxNodes) {
      fail(fmt::format("more than {} objects to place", kMaxNodes));
    }
    nodes_.emplace_back();
    auto id = static_cast<uint32_t>(nodes_.size() - 1);
    push({K::node, id, {}, 0});
    return id;
  }
  void push_text(std::string_view text) { push({K::text, kNoNode, text, 0}); }
  void push_global(std::string name) {
    uint32_t id = push_node();
    if (name_index_.size() >= limits_.max_globals && !name_index_.contains(name)) {
      fail(fmt::format("more than {} distinct globals", limits_.max_globals));
    }
    auto [it, added] = name_index_.try_emplace(std::move(name), names_.size());
    if (added) {
      names_.push_back(&it->first);
    }
    nodes_[id].global = static_cast<int32_t>(it->second);
    uses_.emplace_back(it->second, id);
  }
  Value pop() {
    if (stack_.empty() || stack_.back().kind == K::mark) {
      fail("stack underflow");
    }
    Value value = std::move(stack_.back());
    stack_.pop_back();
    return value;
  }
  const Value& top() const {
    if (stack_.empty() || stack_.back().kind == K::mark) {
      fail("stack underflow");
    }
    return stack_.back();
  }
  std::vector<Value> items_to_mark() {
    size_t mark = stack_.size();
    while (mark > 0 && stack_[mark - 1].kind != K::mark) {
      --mark;
    }
    if (mark == 0) {
      fail("no MARK to pop to");
    }
    std::vector<Value> items(std::make_move_iterator(stack_.begin() + static_cast<long>(mark)),
                             std::make_move_iterator(stack_.end()));
    stack_.resize(mark - 1);
    --marks_;
    return items;
  }

  // A call or a class construction: the object made is where its callable (a global) is used,
  // and what went into it is shown there too.
  void make(const Value& callable, const std::vector<Value>& inputs) {
    uint32_t made = push_node();
    if (callable.node != kNoNode && nodes_[callable.node].global >= 0) {
      nodes_[made].global = nodes_[callable.node].global;
      uses_.emplace_back(static_cast<size_t>(nodes_[made].global), made);
    }
    place(callable, made, Step::same, {}, 0);
    for (const auto& input : inputs) {
      absorb(input, made);
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

  void append(const Value& list, const Value& item) {
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

  void memo_put(uint64_t key) {
    if (memo_.size() >= limits_.max_memo && !memo_.contains(key)) {
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

  std::map<std::string, std::string> paths(const Value& result) {
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

  ByteCursor in_;
  const PickleLimits& limits_;
  size_t at_ = 0;
  size_t marks_ = 0;
  std::vector<Value> stack_;
  std::vector<Node> nodes_;
  std::map<uint64_t, Value> memo_;
  std::vector<bool> unreachable_;
  std::map<std::string, size_t> name_index_;
  std::vector<const std::string*> names_;         // by index, into name_index_'s keys
  std::vector<std::pair<size_t, uint32_t>> uses_; // global -> a value it is or made, in order
};

} // namespace

Expected<std::map<std::string, std::string>> global_object_paths(std::string_view pickle,
                                                                 const PickleLimits& limits) {
  try {
    return PathWalker(pickle, limits).walk();
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
