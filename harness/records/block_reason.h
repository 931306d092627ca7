// Why the weights-only unpickler refused a load: a closed set, one id each in results.json.
#pragma once

#include <optional>
#include <string_view>

namespace loadmatrix {

enum class BlockReason {
  none,
  global_not_allowed, // GLOBAL x was not an allowed global (1.13: "Unsupported class x")
  module_blocklisted, // the global's module (os, posix, ...) is refused outright
  unsupported_opcode, // an opcode the weights-only unpickler does not implement
  build_not_allowed,  // BUILD/NEWOBJ of a type it will not construct
  other,              // a weights-only refusal in words we do not recognise
};

// The id results.json carries ("" for none).
const char* block_reason_id(BlockReason reason);
std::optional<BlockReason> parse_block_reason(std::string_view id);

} // namespace loadmatrix
