// The static analyzer's hot paths: walking a state_dict-shaped pickle, and reading a torch zip
// whose tensor data grows while its pickle stays the same (the cost must not grow with it).
#include "pickle/checkpoint_file.h"
#include "pickle/pickle_analysis.h"

#include <benchmark/benchmark.h>
#include <filesystem>
#include <fmt/core.h>
#include <fstream>
#include <unistd.h>
#include <zip.h>

using namespace loadmatrix;
using namespace std::string_literals;

namespace {

void append_u32(std::string& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) {
    out += static_cast<char>((value >> (8 * i)) & 0xff);
  }
}

void append_unicode(std::string& out, const std::string& text) {
  out += 'X';
  append_u32(out, static_cast<uint32_t>(text.size()));
  out += text;
}

// What torch.save writes for an OrderedDict of `tensors` tensors: every global named once and
// reached through the memo after, a persistent id per storage, REDUCE per tensor.
std::string state_dict_pickle(size_t tensors) {
  std::string out = "\x80\x02\x63\x63ollections\nOrderedDict\nq\x00)Rq\x01("s;
  uint32_t memo = 2;
  for (size_t i = 0; i < tensors; ++i) {
    append_unicode(out, fmt::format("layers.{}.weight", i));
    if (i == 0) {
      out += "ctorch._utils\n_rebuild_tensor_v2\nq";
      out += static_cast<char>(memo++);
    } else {
      out += "h\x02";
    }
    out += "((";
    append_unicode(out, "storage");
    if (i == 0) {
      out += "ctorch\nFloatStorage\nq";
      out += static_cast<char>(memo++);
    } else {
      out += "h\x03";
    }
    append_unicode(out, std::to_string(i));
    append_unicode(out, "cpu");
    // The backward-hooks OrderedDict: the global memoised at the top, as torch's pickler does.
    out += "M\x00\x04tQK\x00M\x00\x01K\x04\x86K\x04K\x01\x86\x89h\x00)RtR"s;
    out += "r";
    append_u32(out, memo++);
  }
  out += "u.";
  return out;
}

void BM_AnalyzeStateDictPickle(benchmark::State& state) {
  std::string pickle = state_dict_pickle(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto analysis = analyze_pickle(pickle);
    if (!analysis) {
      state.SkipWithError(analysis.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(analysis->end_offset);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * pickle.size()));
  state.counters["pickle_bytes"] = static_cast<double>(pickle.size());
}
BENCHMARK(BM_AnalyzeStateDictPickle)->Arg(10)->Arg(1000)->Arg(100000);

// A torch zip: data.pkl for 200 tensors plus one stored data record of `payload` bytes.
std::filesystem::path checkpoint_with_payload(uint64_t payload) {
  auto path = std::filesystem::temp_directory_path() /
              fmt::format("loadmatrix-bench-{}-{}.pt", ::getpid(), payload);
  if (std::filesystem::exists(path)) {
    return path;
  }
  auto blob = path;
  blob += ".blob";
  std::ofstream(blob).close();
  std::filesystem::resize_file(blob, payload); // sparse: cheap to make, real to read
  std::string pickle = state_dict_pickle(200);
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  zip_int64_t data = zip_file_add(archive, "archive/data.pkl",
                                  zip_source_buffer(archive, pickle.data(), pickle.size(), 0), 0);
  zip_set_file_compression(archive, static_cast<zip_uint64_t>(data), ZIP_CM_STORE, 0);
  zip_int64_t tensors =
      zip_file_add(archive, "archive/data/0", zip_source_file(archive, blob.c_str(), 0, -1), 0);
  zip_set_file_compression(archive, static_cast<zip_uint64_t>(tensors), ZIP_CM_STORE, 0);
  zip_close(archive);
  std::filesystem::remove(blob);
  return path;
}

void BM_ReadZipCheckpoint(benchmark::State& state) {
  auto path = checkpoint_with_payload(static_cast<uint64_t>(state.range(0)) << 20);
  for (auto _ : state) {
    auto file = read_checkpoint_file(path);
    if (!file) {
      state.SkipWithError(file.error().message.c_str());
      break;
    }
    for (const auto& member : file->pickles) {
      benchmark::DoNotOptimize(analyze_pickle(member.bytes));
    }
  }
  state.counters["payload_MiB"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_ReadZipCheckpoint)->Arg(1)->Arg(100)->Arg(2048)->Unit(benchmark::kMicrosecond);

} // namespace
