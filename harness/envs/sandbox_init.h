// PID 1 of a sandbox (see sandbox.h). Separate from the driver so that it can run inside the
// fresh namespaces `unshare` creates and stay tiny.
#pragma once

namespace loadmatrix {

int sandbox_init_main(int argc, char** argv);

} // namespace loadmatrix
