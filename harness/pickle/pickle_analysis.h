// Static analysis of a pickle stream: which globals it names and what it does with them,
// without executing anything. Parses untrusted bytes: every read is bounds-checked, every
// budget limited, and an error names the byte offset.
#pragma once

#include "util/error.h"

#include <boost/container/flat_map.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
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

// What a pickle does with a global. Declared in the order of their names (ASCII: upper case
// first), so a map keyed by it lists uses as scan.json, sorted by name, always has.
enum class UseKind : uint8_t {
  append,     // APPEND/APPENDS into the object the global made
  build,      // BUILD of it
  inst,       // INST (protocol 0)
  newobj,     // NEWOBJ
  newobj_ex,  // NEWOBJ_EX
  obj,        // OBJ (protocol 1)
  reduce,     // REDUCE: the global called
  setitem,    // SETITEM/SETITEMS into the object the global made
  referenced, // named by GLOBAL/STACK_GLOBAL/EXT, whatever else happens
  count
};

// The name scan.json and the predictions use: "APPEND", ..., "SETITEM", "referenced".
const char* use_kind_name(UseKind kind);

struct GlobalUse {
  std::string name;     // module.qualname, Python-2 names mapped as torch 2.x maps them
  std::string raw_name; // as written in the pickle, which is what torch 1.x compares
  std::string module;   // the module part of `name`, which torch's module blocklist checks
  // use -> offset of its first occurrence. Here and below, maps of a few entries made for every
  // pickle are flat (a sorted vector): a node allocation per entry cost more than the walk of
  // a small checkpoint.
  boost::container::flat_map<UseKind, size_t> uses;
  size_t first_offset = 0;
};

// BUILD of a numpy.dtype: numpy 2 builds an instance of a per-type class (numpy.dtypes.
// Float32DType for "f4"), which torch's weights-only unpickler checks by that class.
struct NumpyDtypeBuild {
  std::string code; // the dtype's type string as pickled: "f4", "u4", "i8", ...
  size_t offset = 0;
};

// A call of torch._utils._rebuild_sparse_tensor(layout, data): torch 2.x writes a COO tensor's
// data as (indices, values, size, is_coalesced), which 1.x's rebuild cannot unpack ("too many
// values to unpack", measured loading 2.6/2.14 files on 1.7 and 1.13). How many fields each
// env takes is measured (probes/global_resolution.h); the bytes give the layout and the count.
struct SparseRebuild {
  std::string layout; // as torch.serialization._get_layout's argument: "torch.sparse_coo"
  size_t fields = 0;  // items in `data`
  size_t offset = 0;  // the REDUCE
};

struct PickleAnalysis {
  int protocol = 0;
  std::vector<GlobalUse> globals;   // in order of first appearance
  size_t end_offset = 0;            // one past STOP: where a following pickle would start
  bool persistent_ids = false;      // PERSID / BINPERSID (torch's storage references)
  bool out_of_band_buffers = false; // protocol 5 NEXT_BUFFER
  boost::container::flat_map<uint8_t, size_t> opcodes_used; // opcode -> offset of its first use
  std::vector<NumpyDtypeBuild> numpy_dtype_builds;
  std::vector<SparseRebuild> sparse_rebuilds;
  // The first BINPERSID whose id is a tuple naming something other than "storage": the legacy
  // format's whole-module saves write ("module", cls, source_file, source) for each nn.Module
  // class (torch 0.4-1.x). Every weights-only unpickler refuses it ("Only persistent_load of
  // storage is allowed", measured on 1.13, 2.6 and 2.14), whatever is allowlisted.
  std::string foreign_persistent_id; // its first item, "" when none
  size_t foreign_persistent_at = 0;  // the BINPERSID
};

// pickletools' name for an opcode ("BINFLOAT"), or "UNKNOWN".
const char* pickle_opcode_name(uint8_t opcode);

// Analyses the pickle starting at offset 0 of `bytes`, up to and including its STOP.
Expected<PickleAnalysis> analyze_pickle(std::string_view bytes, const PickleLimits& limits = {});

} // namespace loadmatrix
