#include "testing/checkpoint_writer.h"

#include <fstream>
#include <stdexcept>
#include <vector>
#include <zip.h>

namespace loadmatrix::test_support {

void write_torch_zip(const std::filesystem::path& path, const std::string& pickle,
                     const std::string& prefix) {
  // libzip writes through a temp file named after the archive (NAME.XXXXXX), which a 255-byte
  // name cannot have: the archive is made under a short name and renamed into place.
  auto building = path.parent_path() / ".building.zip";
  int error = 0;
  zip_t* archive = zip_open(building.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (archive == nullptr) {
    throw std::runtime_error("zip_open " + building.string() + ": error " + std::to_string(error));
  }
  // libzip reads the buffers at zip_close: they must live until then (ASan found this).
  std::vector<std::string> buffers;
  buffers.reserve(2);
  auto add = [&](const std::string& name, std::string data) {
    const std::string& kept = buffers.emplace_back(std::move(data));
    zip_source_t* source = zip_source_buffer(archive, kept.data(), kept.size(), 0);
    // ZIP_FL_ENC_RAW: the name's bytes as they are, even when they are not UTF-8.
    zip_int64_t index =
        zip_file_add(archive, name.c_str(), source, ZIP_FL_OVERWRITE | ZIP_FL_ENC_RAW);
    zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
  };
  add(prefix + "/data.pkl", pickle);
  add(prefix + "/version", "3\n");
  if (zip_close(archive) != 0) {
    throw std::runtime_error("zip_close " + building.string() + ": " + zip_strerror(archive));
  }
  std::filesystem::rename(building, path);
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

} // namespace loadmatrix::test_support
