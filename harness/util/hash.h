// A stable 64-bit FNV-1a digest for cache keys (std::hash may differ between builds).
#pragma once

#include <cstdint>
#include <fmt/core.h>
#include <string>
#include <string_view>

namespace loadmatrix {

class Fnv1a {
public:
  Fnv1a& add(std::string_view bytes) {
    for (unsigned char c : bytes) {
      state_ = (state_ ^ c) * 0x100000001b3ULL;
    }
    // A separator, so ("ab","c") and ("a","bc") differ.
    state_ = (state_ ^ 0xff) * 0x100000001b3ULL;
    return *this;
  }
  std::string hex() const { return fmt::format("{:016x}", state_); }

private:
  uint64_t state_ = 0xcbf29ce484222325ULL;
};

} // namespace loadmatrix
