// The static scan per file, against the least any scanner must do per file. Runs on the files
// under $LOADMATRIX_BENCH_FILES (bench/run points it at the corpus and at the large training
// checkpoints); without it these benchmarks are not registered.
#include "scan/file_scan.h"
#include "scan/scan_inputs.h"
#include "util/file_contents.h"

#include <benchmark/benchmark.h>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace loadmatrix;

namespace {

std::vector<ScanInput> bench_files() {
  const char* dir = std::getenv("LOADMATRIX_BENCH_FILES");
  return dir ? collect_scan_inputs({dir}) : std::vector<ScanInput>{};
}

// The floor: open, fstat, read what FileContents would read (its first 256 KiB), close. A 2 KB
// checkpoint is all syscalls, so no scanner, in any language, gets through a directory of them
// faster than this.
void BM_OpenReadCloseFloor(benchmark::State& state, std::vector<ScanInput> files) {
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

// What `loadmatrix scan` does per file before predicting: read it, find its pickles, walk them.
void BM_ScanFileOneThread(benchmark::State& state, std::vector<ScanInput> files) {
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
    benchmark::RegisterBenchmark("BM_ScanFileOneThread", BM_ScanFileOneThread, files);
  }
  return true;
}();

} // namespace
