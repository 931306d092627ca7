// Hand-made checkpoint files for tests: a torch.save-shaped zip around a pickle written byte by
// byte, so a test states exactly which opcodes and names a file holds.
#pragma once

#include <filesystem>
#include <string>

namespace loadmatrix::test_support {

// A stored (uncompressed) zip holding PREFIX/data.pkl = `pickle` and PREFIX/version, as
// torch.save writes it. `prefix` is any bytes, valid UTF-8 or not.
void write_torch_zip(const std::filesystem::path& path, const std::string& pickle,
                     const std::string& prefix = "archive");

void write_bytes(const std::filesystem::path& path, const std::string& bytes);

} // namespace loadmatrix::test_support
