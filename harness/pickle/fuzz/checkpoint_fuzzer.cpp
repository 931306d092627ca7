// libFuzzer target for the code that reads untrusted bytes: the pickle walker directly, and the
// container reader (zip via libzip, legacy, tar, raw pickle) through a file. Built with clang,
// ASan and UBSan by scripts/fuzz; a finding becomes a test in pickle/*_test.cpp.
// Every walk is also made by the plain reference walker (reference_walker.h), and any difference
// in the analysis or the error is a crash: the fast walker's tricks must not change an answer.
#include "pickle/checkpoint_file.h"
#include "pickle/fuzz/reference_walker.h"
#include "pickle/pickle_analysis.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace {

// Small budgets keep each input fast; the limits are part of what is exercised.
const loadmatrix::PickleLimits kLimits{200'000, 20'000, 20'000, 2'000, 2'000};
// An opcode budget shorter than most inputs: the walk that counts opcodes, which only pickles
// longer than the budget take, is exercised too.
const loadmatrix::PickleLimits kCountedLimits{64, 20'000, 20'000, 2'000, 2'000};

std::string scratch_file() {
  char path[] = "/tmp/loadmatrix-fuzz-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd >= 0) {
    ::close(fd);
  }
  return path;
}

void analyze_both(std::string_view bytes, const loadmatrix::PickleLimits& limits) {
  std::string difference =
      loadmatrix::analysis_difference(loadmatrix::analyze_pickle(bytes, limits),
                                      loadmatrix::reference_analyze_pickle(bytes, limits));
  if (!difference.empty()) {
    std::fprintf(stderr, "walkers differ on a %zu-byte pickle: %s\n", bytes.size(),
                 difference.c_str());
    std::abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  analyze_both(bytes, kLimits);
  analyze_both(bytes, kCountedLimits);

  static const std::string path = scratch_file();
  if (FILE* out = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, out);
    std::fclose(out);
    auto file = loadmatrix::read_checkpoint_file(path, 1 << 20);
    if (file) {
      for (const auto& member : file->pickles) {
        analyze_both(member.bytes, kLimits);
      }
    }
  }
  return 0;
}
