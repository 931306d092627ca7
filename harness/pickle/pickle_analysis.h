// Static analysis of a pickle stream: which globals it names and what it does with them,
// without executing anything. Parses untrusted bytes: every read is bounds-checked, every
// budget limited, and an error names the byte offset.
#pragma once

#include "util/error.h"

#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

struct PickleLimits {
  size_t max_opcodes = 50'000'000;
  size_t max_memo = 5'000'000;
  size_t max_stack = 5'000'000;
  size_t max_marks = 100'000; // nesting depth of MARKs
  size_t max_globals = 100'000;
};

struct GlobalUse {
  std::string name;           // module.qualname, Python-2 names mapped as torch maps them
  std::set<std::string> uses; // REDUCE, BUILD, NEWOBJ, NEWOBJ_EX, INST, OBJ, or "referenced"
  size_t first_offset = 0;
};

struct PickleAnalysis {
  int protocol = 0;
  std::vector<GlobalUse> globals; // in order of first appearance
  size_t opcodes = 0;
  size_t end_offset = 0;            // one past STOP: where a following pickle would start
  bool persistent_ids = false;      // PERSID / BINPERSID (torch's storage references)
  bool out_of_band_buffers = false; // protocol 5 NEXT_BUFFER
};

// Analyses the pickle starting at offset 0 of `bytes`, up to and including its STOP.
Expected<PickleAnalysis> analyze_pickle(std::string_view bytes, const PickleLimits& limits = {});

} // namespace loadmatrix
