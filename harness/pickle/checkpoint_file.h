// What a file is and where its pickles are, read without loading any tensor data: the pickle
// members of a torch zip (any "*/data.pkl" prefix), the stacked pickles of the legacy format,
// the "pickle" member of the oldest tar format, or a raw pickle.
#pragma once

#include "util/error.h"
#include "util/file_contents.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

enum class CheckpointFormat {
  torch_zip,   // torch.save since 1.6
  torchscript, // torch.jit.save: a zip with code/ and constants.pkl
  // torch.jit.save of torch 1.0-1.2 (measured: 1.1): model.json, tensors/N, attributes.pkl and
  // no data.pkl, which torch.load does not take for TorchScript (no constants.pkl) and cannot
  // read; it has no pickle torch.load reads, and each env is asked what torch.load says of it.
  torchscript_legacy,
  legacy,     // _use_new_zipfile_serialization=False: pickles one after another
  legacy_tar, // torch < 0.4's tar of sys_info, pickle, storages, tensors
  raw_pickle, // a plain pickle
  numpy_npy,
  safetensors,
  not_a_checkpoint,
};

const char* checkpoint_format_id(CheckpointFormat format);

struct PickleMember {
  std::string name;                            // "archive/data.pkl", "legacy[3]", ...
  std::string_view bytes;                      // into the file's contents, or into `inflated`
  std::shared_ptr<const std::string> inflated; // a compressed zip member, decompressed
};

struct CheckpointFile {
  CheckpointFormat format = CheckpointFormat::not_a_checkpoint;
  uint64_t size = 0; // the file's, in bytes
  std::vector<PickleMember> pickles;
  // Records of a zip that tell which torch wrote it (measured: 1.7, 1.13 and 2.0 write
  // neither, 2.1, 2.5 and 2.6 write byteorder, 2.14's torch.save also .format_version); see
  // file_scan.h, written_by.
  bool byteorder_record = false;
  bool format_version_record = false;
  // What the members' bytes are views of: nothing is copied out of the file.
  std::shared_ptr<const FileContents> contents;
};

// An error names the file and what is wrong with it (a zip without data.pkl or model.json, a
// member whose
// declared size is over `max_member_bytes`, a truncated archive).
Expected<CheckpointFile> read_checkpoint_file(const std::filesystem::path& file,
                                              size_t max_member_bytes = 512u << 20);

} // namespace loadmatrix
