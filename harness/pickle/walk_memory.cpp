#include "pickle/walk_memory.h"

#include <cstring>
#include <new>
#include <sys/mman.h>

namespace loadmatrix {

namespace {
constexpr size_t kDenseBytes = DenseMemo::kEntries * sizeof(SymbolicValue);
} // namespace

DenseMemo::DenseMemo() {
  void* pages = ::mmap(nullptr, kDenseBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (pages == MAP_FAILED) {
    throw std::bad_alloc();
  }
  entries_ = static_cast<SymbolicValue*>(pages);
}

DenseMemo::~DenseMemo() {
  ::munmap(entries_, kDenseBytes);
}

void DenseMemo::clear(uint64_t used) {
  constexpr uint64_t kClearedInPlace = 1 << 18; // entries: 2 MiB
  if (used <= kClearedInPlace) {
    std::memset(static_cast<void*>(entries_), 0, used * sizeof(SymbolicValue));
  } else {
    ::madvise(entries_, kDenseBytes, MADV_DONTNEED);
  }
}

} // namespace loadmatrix
