// Where a run keeps the producers' files: ROOT/PRODUCER/STEM.pt and STEM.expect.json (what the
// producer saved and read back), ROOT being OUT/checkpoints or a --checkpoints directory of
// earlier --save-only runs.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace loadmatrix {

// `checkpoints_from` when set (loads of --save-only runs' files), else OUT/checkpoints.
std::filesystem::path checkpoints_root(const std::filesystem::path& out_dir,
                                       const std::optional<std::filesystem::path>& from);

// A case's files are named after it, but a name is any file stem the user gave (up to 255
// bytes) and NAME_MAX is 255 with ".expect.json" still to come: a long name keeps its head
// and gets a digest of the whole, so two long names never share files.
std::string checkpoint_stem(const std::string& case_name);

} // namespace loadmatrix
