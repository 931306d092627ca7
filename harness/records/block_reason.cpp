#include "records/block_reason.h"

namespace loadmatrix {

const char* block_reason_id(BlockReason reason) {
  switch (reason) {
  case BlockReason::none:
    return "";
  case BlockReason::global_not_allowed:
    return "global_not_allowed";
  case BlockReason::module_blocklisted:
    return "module_blocklisted";
  case BlockReason::unsupported_opcode:
    return "unsupported_opcode";
  case BlockReason::build_not_allowed:
    return "build_not_allowed";
  case BlockReason::other:
    return "other";
  }
  return "";
}

std::optional<BlockReason> parse_block_reason(std::string_view id) {
  for (BlockReason reason :
       {BlockReason::none, BlockReason::global_not_allowed, BlockReason::module_blocklisted,
        BlockReason::unsupported_opcode, BlockReason::build_not_allowed, BlockReason::other}) {
    if (id == block_reason_id(reason)) {
      return reason;
    }
  }
  return std::nullopt;
}

} // namespace loadmatrix
