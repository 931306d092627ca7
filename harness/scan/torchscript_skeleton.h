// A TorchScript archive without its tensor data, for asking an env whether its torch.jit.load
// reads the archive (probes/global_resolution.h, ArchiveImport): what an older torch fails on is
// the code, its constants and its debug records, never the bytes of a storage, and the import
// does not check a storage's size against the tensors over it (measured on 1.7, 1.13, 2.6 and
// 2.14: every corpus archive with emptied storages imports as the original does). So a 5 GB
// model is asked about with a few kilobytes.
#pragma once

#include "util/error.h"

#include <cstdint>
#include <filesystem>

namespace loadmatrix {

// Every member but the storage records (".../data/N", ".../constants/N"), copied uncompressed;
// those are written empty. `out` must not exist. An error names the file and the member; one
// whose members other than storages hold more than `max_kept_bytes` is refused (not asked).
Expected<uint64_t> write_torchscript_skeleton(const std::filesystem::path& archive,
                                              const std::filesystem::path& out,
                                              uint64_t max_kept_bytes = 256u << 20);

} // namespace loadmatrix
