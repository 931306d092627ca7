// A bounds-checked reader over a pickle's bytes (bloaty's ReadFixed): every read checks what is
// left and fails with the byte offset it was made at. Used only by the pickle walker.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace loadmatrix {

// A malformed pickle: the byte offset of the opcode or argument at fault, and why. Thrown inside
// the walker only; analyze_pickle turns it into an Error value.
struct PickleFailure {
  size_t offset;
  std::string what;
};

class ByteCursor {
public:
  explicit ByteCursor(std::string_view bytes)
      : begin_(bytes.data()), at_(bytes.data()), end_(bytes.data() + bytes.size()) {}
  size_t offset() const { return static_cast<size_t>(at_ - begin_); }
  const char* position() const { return at_; }

  // The walker reads a byte or more per opcode: these are inlined into it (a call per read was
  // a measurable part of its instructions: bench/README.md).
  [[gnu::always_inline]] uint8_t u8() { return static_cast<uint8_t>(take(1)[0]); }
  // A fixed-width little-endian argument (BININT's 4 bytes, FRAME's 8).
  template <size_t Width> [[gnu::always_inline]] uint64_t little_endian() {
    static_assert(std::endian::native == std::endian::little, "pickle integers are little-endian");
    uint64_t value = 0;
    std::memcpy(&value, take(Width).data(), Width);
    return value;
  }
  // The next `count` bytes; fails with "needs N bytes, M left" at the current offset.
  [[gnu::always_inline]] std::string_view take(uint64_t count) {
    auto left = static_cast<uint64_t>(end_ - at_);
    if (count > left) [[unlikely]] {
      short_of(offset(), count, left);
    }
    std::string_view out(at_, count);
    at_ += count;
    return out;
  }
  // Protocol 0's newline-terminated arguments, without the newline.
  std::string_view line() {
    const void* newline = std::memchr(at_, '\n', static_cast<size_t>(end_ - at_));
    if (newline == nullptr) {
      throw PickleFailure{offset(), "unterminated line argument"};
    }
    std::string_view out(at_, static_cast<size_t>(static_cast<const char*>(newline) - at_));
    at_ = static_cast<const char*>(newline) + 1;
    return out;
  }

private:
  // Out of line and given values, not `this`, so a cursor kept in a local stays in registers.
  [[noreturn, gnu::noinline, gnu::cold]] static void short_of(size_t offset, uint64_t count,
                                                              uint64_t left) {
    throw PickleFailure{offset, "needs " + std::to_string(count) + " bytes, " +
                                    std::to_string(left) + " left"};
  }

  const char* begin_;
  const char* at_;
  const char* end_;
};

} // namespace loadmatrix
