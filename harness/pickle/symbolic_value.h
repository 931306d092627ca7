// What the pickle walker keeps on its stack and in its memo instead of the objects a real
// unpickler would build: enough to resolve STACK_GLOBAL's strings and to say which global an
// object came from when it is later BUILT, APPENDed to or SETITEMed into.
#pragma once

#include <cstdint>

namespace loadmatrix {

// Where a string the walker keeps lies in the pickle's bytes.
struct TextRef {
  uint32_t offset = 0;
  uint32_t length = 0;
};

// One machine word: a kind, a global's index and a string as offset and length into the pickle,
// never a copy of anything. The walk copies a value on almost every opcode; a wider one was
// measured slower (bench/README.md).
class SymbolicValue {
public:
  enum class Kind : uint8_t {
    absent, // an empty memo slot; never on the stack
    mark,   // pushed by MARK only
    string, // text(): the string
    global, // global(): the global named (GLOBAL, STACK_GLOBAL, EXT*)
    object, // global(): the global that made it; text(): its first argument, when a string
    tuple,  // text(): its first item, when a string (a numpy.dtype's type code) or a layout;
            // global(): its length (low 8 bits, at most 255) and, above, 1 + its last item's
            // length when that is a tuple (a sparse tensor's data), else 0
    other   // anything else
  };
  static constexpr uint32_t kMaxText = (1u << 12) - 1;    // longer strings are not kept
  static constexpr uint32_t kMaxGlobals = (1u << 17) - 1; // distinct globals it can index

  SymbolicValue() = default;
  explicit SymbolicValue(Kind kind, uint32_t global = 0, TextRef text = {})
      : bits_(static_cast<uint64_t>(kind) | static_cast<uint64_t>(global) << 3 |
              static_cast<uint64_t>(text.length) << 20 | static_cast<uint64_t>(text.offset) << 32) {
  }
  Kind kind() const { return static_cast<Kind>(bits_ & 0x7); }
  uint32_t global() const { return static_cast<uint32_t>(bits_ >> 3) & kMaxGlobals; }
  TextRef text() const {
    return {static_cast<uint32_t>(bits_ >> 32), static_cast<uint32_t>(bits_ >> 20) & kMaxText};
  }

private:
  // An all-zero word is `absent`, which is what a fresh memo page holds (walk_memory.h).
  uint64_t bits_ = static_cast<uint64_t>(Kind::other);
};
static_assert(sizeof(SymbolicValue) == 8);
static_assert(static_cast<uint8_t>(SymbolicValue::Kind::absent) == 0);

} // namespace loadmatrix
