// Who sandboxed commands run as, in every env kind: nobody, so the only things they can write
// are what the driver hands to this user. Its own header because loadmatrix-sandbox, linked
// statically into images, includes nothing else of ours.
#pragma once

#include <sys/types.h>

namespace loadmatrix {

inline constexpr uid_t kSandboxUser = 65534;

} // namespace loadmatrix
