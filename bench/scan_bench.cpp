// The static scan per file, against the least any scanner must do per file. Runs on the files
// under $LOADMATRIX_BENCH_FILES (bench/run points it at the corpus and at the large training
// checkpoints); without it these benchmarks are not registered.
#include "pickle/checkpoint_file.h"
#include "scan/file_scan.h"
#include "util/file_contents.h"
#include "util/input_files.h"

#include <algorithm>
#include <array>
#include <benchmark/benchmark.h>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace loadmatrix;

namespace {

std::vector<InputFile> bench_files() {
  const char* dir = std::getenv("LOADMATRIX_BENCH_FILES");
  return dir ? collect_input_files({dir}) : std::vector<InputFile>{};
}

// The floor: open, fstat, read what FileContents would read (its first 256 KiB), close. A 2 KB
// checkpoint is all syscalls, so no scanner, in any language, gets through a directory of them
// faster than this.
void BM_OpenReadCloseFloor(benchmark::State& state, std::vector<InputFile> files) {
  std::string buffer(FileContents::kReadLimit, '\0');
  for (auto _ : state) {
    for (const auto& input : files) {
      int fd = ::open(input.file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      struct stat info;
      ::fstat(fd, &info);
      benchmark::DoNotOptimize(::pread(fd, buffer.data(), buffer.size(), 0));
      ::close(fd);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * files.size()));
}

// The least any pickle scanner does per opcode: find where the next one starts. No stack, no
// memo, no globals; a table of argument sizes and one switch on how the size is encoded.
size_t count_opcodes(std::string_view pickle) {
  enum Encoding : uint8_t { fixed, u8_length, u32_length, u64_length, lines };
  static const auto table = [] {
    std::array<std::pair<Encoding, uint8_t>, 256> t{};
    t.fill({fixed, 0});
    for (auto [opcode, bytes] : {std::pair{0x80, 1},
                                 {0x95, 8},
                                 {'J', 4},
                                 {'K', 1},
                                 {'M', 2},
                                 {'G', 8},
                                 {'q', 1},
                                 {'r', 4},
                                 {'h', 1},
                                 {'j', 4},
                                 {0x82, 1},
                                 {0x83, 2},
                                 {0x84, 4}}) {
      t[static_cast<size_t>(opcode)] = {fixed, static_cast<uint8_t>(bytes)};
    }
    for (int opcode : std::initializer_list<int>{0x8a, 'U', 0x8c, 'C'}) {
      t[static_cast<size_t>(opcode)] = {u8_length, 0};
    }
    for (int opcode : std::initializer_list<int>{0x8b, 'T', 'X', 'B'}) {
      t[static_cast<size_t>(opcode)] = {u32_length, 0};
    }
    for (int opcode : std::initializer_list<int>{0x8d, 0x8e, 0x96}) {
      t[static_cast<size_t>(opcode)] = {u64_length, 0};
    }
    for (int opcode : std::initializer_list<int>{'I', 'L', 'F', 'S', 'V', 'P', 'p', 'g'}) {
      t[static_cast<size_t>(opcode)] = {lines, 1};
    }
    for (int opcode : std::initializer_list<int>{'c', 'i'}) {
      t[static_cast<size_t>(opcode)] = {lines, 2};
    }
    return t;
  }();
  size_t at = 0;
  size_t count = 0;
  while (at < pickle.size()) {
    auto opcode = static_cast<uint8_t>(pickle[at++]);
    ++count;
    if (opcode == '.') {
      break;
    }
    auto [encoding, bytes] = table[opcode];
    uint64_t length = 0;
    switch (encoding) {
    case fixed:
      at += bytes;
      break;
    case u8_length:
      at += 1 + (at < pickle.size() ? static_cast<uint8_t>(pickle[at]) : 0);
      break;
    case u32_length:
    case u64_length:
      std::memcpy(&length, pickle.data() + std::min(at, pickle.size() - 8),
                  encoding == u32_length ? 4 : 8);
      at += (encoding == u32_length ? 4 : 8) + length;
      break;
    case lines:
      for (int line = 0; line < bytes && at < pickle.size(); ++line) {
        at = std::min(pickle.size(), pickle.find('\n', at) + 1);
      }
      break;
    }
  }
  return count;
}

// The floor on a large checkpoint: read it and find its pickles as the scan does, then only
// find where each opcode starts. A scan that also follows the stack cannot be faster.
void BM_ReadAndDecodeFloor(benchmark::State& state, std::vector<InputFile> files) {
  size_t opcodes = 0;
  for (auto _ : state) {
    opcodes = 0;
    for (const auto& input : files) {
      auto file = read_checkpoint_file(input.file);
      if (file) {
        for (const auto& member : file->pickles) {
          opcodes += count_opcodes(member.bytes);
        }
      }
    }
  }
  state.counters["opcodes"] = static_cast<double>(opcodes);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * files.size()));
}

// What `loadmatrix scan` does per file before predicting: read it, find its pickles, walk them.
void BM_ScanFileOneThread(benchmark::State& state, std::vector<InputFile> files) {
  for (auto _ : state) {
    for (const auto& input : files) {
      benchmark::DoNotOptimize(scan_file(input));
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * files.size()));
}

const bool registered = [] {
  auto files = bench_files();
  if (!files.empty()) {
    benchmark::RegisterBenchmark("BM_OpenReadCloseFloor", BM_OpenReadCloseFloor, files);
    // The same on every core, as `loadmatrix scan` runs by default: each thread reads every file.
    benchmark::RegisterBenchmark("BM_OpenReadCloseFloorAllCores", BM_OpenReadCloseFloor, files)
        ->Threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())))
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_ScanFileOneThread", BM_ScanFileOneThread, files);
    benchmark::RegisterBenchmark("BM_ReadAndDecodeFloor", BM_ReadAndDecodeFloor, files);
  }
  return true;
}();

} // namespace
