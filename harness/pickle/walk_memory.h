// The pickle walker's working memory, kept by each thread from one pickle to the next: a large
// checkpoint's memo has tens of thousands of entries, and allocating, faulting in and freeing
// that for every file cost more than the walk itself (bench/README.md).
#pragma once

#include "pickle/symbolic_value.h"

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace loadmatrix {

// The memo's dense keys, [0, kEntries): 8 MiB of address space mapped once per thread, never
// grown. The kernel hands out zeroed pages only as they are touched, and a zero word is an absent
// value, so a walk pays for the keys it stores and nothing else.
// Throws std::bad_alloc when the mapping fails.
class DenseMemo {
public:
  static constexpr uint64_t kEntries = 1 << 20;

  DenseMemo();
  ~DenseMemo();
  DenseMemo(const DenseMemo&) = delete;
  DenseMemo& operator=(const DenseMemo&) = delete;

  SymbolicValue* data() const { return entries_; }
  // Every entry absent again, given that none at or past `used` was stored. Past 2 MiB (more than
  // a normal checkpoint needs) the pages go back to the kernel instead, so what a hostile pickle
  // touched is not kept.
  void clear(uint64_t used);

private:
  SymbolicValue* entries_ = nullptr;
};

struct WalkMemory {
  std::vector<SymbolicValue> stack;
  std::vector<uint32_t> marks; // the stack positions of the MARKs on it
  DenseMemo memo_dense;
  // Memo keys at or past DenseMemo::kEntries: a hostile key of 2^32 costs one node, not 32 GB.
  std::unordered_map<uint64_t, SymbolicValue> memo_sparse;
};

} // namespace loadmatrix
