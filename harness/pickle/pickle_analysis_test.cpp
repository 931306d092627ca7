#include "pickle/global_name.h"
#include "pickle/pickle_analysis.h"

#include <gtest/gtest.h>

using namespace loadmatrix;
using namespace std::string_literals;

namespace {

const GlobalUse* find(const PickleAnalysis& analysis, const std::string& name) {
  for (const auto& global : analysis.globals) {
    if (global.name == name) {
      return &global;
    }
  }
  return nullptr;
}

PickleAnalysis analyze(const std::string& bytes) {
  auto analysis = analyze_pickle(bytes);
  if (!analysis) {
    ADD_FAILURE() << analysis.error().message;
    return {};
  }
  return *analysis;
}

std::string error_of(const std::string& bytes, const PickleLimits& limits = {}) {
  auto analysis = analyze_pickle(bytes, limits);
  return analysis ? "" : analysis.error().message;
}

} // namespace

TEST(PickleAnalysisTest, Protocol0TextOpcodes) {
  // os.system('echo hi'), the classic payload, written by protocol 0.
  PickleAnalysis analysis = analyze("cos\nsystem\n(S'echo hi'\ntR."s);
  EXPECT_EQ(analysis.protocol, 0);
  ASSERT_EQ(analysis.globals.size(), 1u);
  EXPECT_EQ(analysis.globals[0].name, "os.system");
  EXPECT_TRUE(analysis.globals[0].uses.contains(UseKind::reduce));
  EXPECT_EQ(analysis.end_offset, 26u);
}

TEST(PickleAnalysisTest, Protocol2PythonTwoNamesAreMappedAsTorchDoes) {
  // set([1, 2]) under protocol 2: __builtin__.set, REDUCEd with a list.
  PickleAnalysis analysis = analyze("\x80\x02"
                                    "c__builtin__\nset\nq\x00]q\x01(K\x01K\x02"
                                    "e\x85q\x02Rq\x03."s);
  EXPECT_EQ(analysis.protocol, 2);
  const GlobalUse* set = find(analysis, "builtins.set");
  ASSERT_NE(set, nullptr);
  EXPECT_TRUE(set->uses.contains(UseKind::reduce));
}

// defaultdict(int) as torch 1.13 saves it under protocol 2: the factory is __builtin__.long,
// which Python 3 (and so torch 2.6's weights-only unpickler) reads as builtins.int, not
// builtins.long (measured: torch 2.6 refuses builtins.int there). Whole pairs map first.
TEST(PickleAnalysisTest, Protocol2PythonTwoPairsMapAsPythonThreeReadsThem) {
  PickleAnalysis analysis = analyze("\x80\x02\x63\x63ollections\ndefaultdict\nc__builtin__\nlong\n"
                                    "\x85R}b."s);
  EXPECT_NE(find(analysis, "builtins.int"), nullptr);
  EXPECT_EQ(find(analysis, "builtins.long"), nullptr);
  EXPECT_EQ(global_name("itertools", "izip").name, "builtins.zip");
  EXPECT_EQ(global_name("__builtin__", "reduce").name, "functools.reduce");
  EXPECT_EQ(global_name("__builtin__", "set").name, "builtins.set"); // the module alone
  EXPECT_EQ(global_name("__builtin__", "long").raw, "__builtin__.long");
}

TEST(PickleAnalysisTest, Protocol4StackGlobalNewobjAndBuild) {
  // argparse.Namespace(lr=0.1) under protocol 4, with a FRAME and MEMOIZE.
  std::string bytes = "\x80\x04\x95\x33\x00\x00\x00\x00\x00\x00\x00"
                      "\x8c\x08"
                      "argparse\x94\x8c\x09"
                      "Namespace\x94\x93\x94)\x81\x94}\x94"
                      "\x8c\x02"
                      "lr\x94G?\xb9\x99\x99\x99\x99\x99\x9a"
                      "sb."s;
  PickleAnalysis analysis = analyze(bytes);
  EXPECT_EQ(analysis.protocol, 4);
  const GlobalUse* ns = find(analysis, "argparse.Namespace");
  ASSERT_NE(ns, nullptr);
  EXPECT_TRUE(ns->uses.contains(UseKind::newobj));
  EXPECT_TRUE(ns->uses.contains(UseKind::build));
  EXPECT_EQ(ns->first_offset, 34u); // the STACK_GLOBAL opcode
}

TEST(PickleAnalysisTest, StackGlobalThroughTheMemoIsStillSeen) {
  // The module and name are memoized, then fetched with BINGET: a payload's way of hiding.
  std::string bytes = "\x80\x04\x8c\x05posix\x94\x8c\x06system\x94"
                      "0"
                      "0"
                      "h\x00h\x01\x93\x8c\x02id\x85R."s;
  PickleAnalysis analysis = analyze(bytes);
  const GlobalUse* system = find(analysis, "posix.system");
  ASSERT_NE(system, nullptr);
  EXPECT_TRUE(system->uses.contains(UseKind::reduce));
}

TEST(PickleAnalysisTest, Protocol5BuffersExtensionsInstAndObj) {
  PickleAnalysis buffers = analyze("\x80\x05\x97\x98\x96\x02\x00\x00\x00\x00\x00\x00\x00"
                                   "ab"
                                   "\x86."s);
  EXPECT_EQ(buffers.protocol, 5);
  EXPECT_TRUE(buffers.out_of_band_buffers);

  PickleAnalysis ext = analyze("\x80\x02\x82\x07)R."s);
  ASSERT_EQ(ext.globals.size(), 1u);
  EXPECT_EQ(ext.globals[0].name, "copyreg.extension_registry[7]");

  PickleAnalysis inst = analyze("(I1\nicollections\nOrderedDict\n."s);
  EXPECT_TRUE(find(inst, "collections.OrderedDict")->uses.contains(UseKind::inst));
  PickleAnalysis obj = analyze("(cdatetime\ndate\nI2020\nI1\nI1\no."s);
  EXPECT_TRUE(find(obj, "datetime.date")->uses.contains(UseKind::obj));

  PickleAnalysis persistent = analyze("\x80\x02X\x07\x00\x00\x00storageQ."s);
  EXPECT_TRUE(persistent.persistent_ids);
}

TEST(PickleAnalysisTest, BrokenStreamsFailWithTheirByteOffset) {
  EXPECT_EQ(error_of(""), "offset 0: needs 1 bytes, 0 left");
  EXPECT_EQ(error_of("\x80\x02K"s), "offset 3: needs 1 bytes, 0 left");
  EXPECT_EQ(error_of("\x80\x02\xff."s), "offset 2: unknown opcode 0xff");
  EXPECT_EQ(error_of("\x80\x09."s), "offset 0: unsupported pickle protocol 9");
  EXPECT_EQ(error_of("\x80\x02R."s), "offset 2: stack underflow");
  EXPECT_EQ(error_of("\x80\x02h\x05."s), "offset 2: memo key 5 was never stored");
  EXPECT_EQ(error_of("\x80\x02"
                     "e."s),
            "offset 2: no MARK to pop to");
  EXPECT_EQ(error_of("\x80\x02K\x01K\x02\x93."s), "offset 6: STACK_GLOBAL needs two strings");
  // A huge declared length is refused before anything is allocated; the offset is where the
  // data should have been.
  EXPECT_EQ(error_of("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f."s),
            "offset 11: needs 9223372036854775807 bytes, 1 left");
  EXPECT_EQ(error_of("cos\nsystem"s), "offset 4: unterminated line argument");
}

TEST(PickleAnalysisTest, EveryBudgetIsEnforced) {
  PickleLimits limits;
  limits.max_marks = 100;
  EXPECT_EQ(error_of(std::string(1000, '(') + ".", limits),
            "offset 100: MARKs nested deeper than 100");
  limits = {};
  limits.max_opcodes = 50;
  EXPECT_EQ(error_of(std::string(100, 'N') + ".", limits), "offset 50: more than 50 opcodes");
  // A pickle shorter than the budget is walked without counting, as it cannot exceed it; from
  // the budget's length on it is counted: exactly the budget's opcodes fit, one more does not.
  auto fits = analyze_pickle(std::string(25, 'N') + std::string(24, '0') + ".", limits);
  ASSERT_TRUE(fits) << fits.error().message;
  EXPECT_EQ(fits->end_offset, 50u);
  EXPECT_EQ(error_of(std::string(25, 'N') + std::string(25, '0') + ".", limits),
            "offset 50: more than 50 opcodes");
  limits = {};
  limits.max_stack = 10;
  EXPECT_EQ(error_of(std::string(20, 'N') + ".", limits), "offset 10: stack deeper than 10");
  limits = {};
  limits.max_memo = 3;
  EXPECT_EQ(error_of("N\x94\x94\x94\x94."s, limits), "offset 4: memo larger than 3");
}

// Strings longer than any global's name are skipped, not copied: a hostile multi-GB string
// costs nothing, and cannot name a global either.
TEST(PickleAnalysisTest, AStringLongerThanAnyNameIsSkippedNotKept) {
  std::string module(5000, 'm');
  std::string bytes = "\x80\x04\x8d"s;
  for (int i = 0; i < 8; ++i) {
    bytes += static_cast<char>((module.size() >> (8 * i)) & 0xff);
  }
  bytes += module + "\x8c\x01x\x93."s;
  EXPECT_NE(error_of(bytes).find("STACK_GLOBAL needs two strings"), std::string::npos);
}

// The walk keeps its memo between pickles on a thread (for speed): nothing one pickle stored,
// even one that failed half-way, may be there for the next.
TEST(PickleAnalysisTest, NoMemoEntryOutlivesItsPickle) {
  std::string stores_many = "\x80\x02"s;
  for (char low = 0; low < 100; ++low) { // NONE, LONG_BINPUT, POP: keys 0-99, 256-355, 512-611
    for (char high = 0; high < 3; ++high) {
      stores_many += "Nr"s + low + high + "\0\0"s + "0";
    }
  }
  EXPECT_EQ(analyze(stores_many + ".").end_offset, stores_many.size() + 1);
  EXPECT_EQ(error_of("\x80\x02j\x02\x01\x00\x00."s), "offset 2: memo key 258 was never stored");
  EXPECT_EQ(error_of(stores_many + "\xff"), "offset 2102: unknown opcode 0xff");
  EXPECT_EQ(error_of("\x80\x02h\x05."s), "offset 2: memo key 5 was never stored");
  // MARKs a failed walk left on the stack are gone too.
  EXPECT_EQ(error_of("((((\xff"s), "offset 4: unknown opcode 0xff");
  EXPECT_EQ(error_of("N1."s), "offset 1: no MARK to pop to");
}

// torch._utils._rebuild_sparse_tensor(layout, data), as 1.x and 2.x write a sparse tensor: the
// layout is _get_layout's result, the data a tuple whose length differs between them.
TEST(PickleAnalysisTest, ASparseRebuildIsRecordedWithItsLayoutAndItsDataLength) {
  auto text = [](const std::string& value) {
    return "\x8c"s + static_cast<char>(value.size()) + value; // SHORT_BINUNICODE
  };
  auto call = [&](const std::string& layout, const std::string& data) {
    return "ctorch._utils\n_rebuild_sparse_tensor\nctorch.serialization\n_get_layout\n"s +
           text(layout) + "\x85R" + data + "\x86R";
  };
  std::string v2 = "\x80\x02"s + call("torch.sparse_coo", "(NNN\x89t") + ".";
  PickleAnalysis analysis = analyze(v2);
  ASSERT_EQ(analysis.sparse_rebuilds.size(), 1u);
  EXPECT_EQ(analysis.sparse_rebuilds[0].layout, "torch.sparse_coo");
  EXPECT_EQ(analysis.sparse_rebuilds[0].fields, 4u);
  EXPECT_EQ(analysis.sparse_rebuilds[0].offset, v2.size() - 2); // the REDUCE before STOP

  // 1.x's three fields, through the memo; a compressed layout keeps its name.
  std::string memo = "NNN\x87q\x00"s + "0" + "h\x00"s; // TUPLE3, BINPUT 0, POP, BINGET 0
  analysis = analyze("\x80\x02"s + call("torch.sparse_coo", memo) + "0" +
                     call("torch.sparse_csr", "(NNNNt") + ".");
  ASSERT_EQ(analysis.sparse_rebuilds.size(), 2u);
  EXPECT_EQ(analysis.sparse_rebuilds[0].fields, 3u);
  EXPECT_EQ(analysis.sparse_rebuilds[1].layout, "torch.sparse_csr");
  EXPECT_EQ(analysis.sparse_rebuilds[1].fields, 4u);

  // The same (layout, tuple) pair handed to anything else, or data that is not a tuple, is not
  // a sparse rebuild.
  analysis = analyze("\x80\x02"
                     "cbuiltins\nprint\nctorch.serialization\n_get_layout\n"s +
                     text("torch.sparse_coo") + "\x85R(NNN\x89t\x86R.");
  EXPECT_TRUE(analysis.sparse_rebuilds.empty());
  analysis = analyze("\x80\x02"s + call("torch.sparse_coo", "N") + ".");
  EXPECT_TRUE(analysis.sparse_rebuilds.empty());
}

// torch 0.4-1.x's legacy whole-module save: ("module", cls, file, source) before each module's
// state, which every weights-only unpickler refuses; a storage's ("storage", ...) id is not.
TEST(PickleAnalysisTest, APersistentIdThatIsNotAStoragesIsRecordedWithItsKind) {
  // (X"storage" X"k" t) Q, then (X"module" c torch.nn Linear t) Q
  std::string storage = "\x80\x02(X\x07\x00\x00\x00storageX\x01\x00\x00\x00ktQ"s;
  std::string module = "(X\x06\x00\x00\x00modulectorch.nn\nLinear\ntQ"s;
  PickleAnalysis only_storage = analyze(storage + "."s);
  EXPECT_TRUE(only_storage.persistent_ids);
  EXPECT_EQ(only_storage.foreign_persistent_id, "");
  PickleAnalysis whole_module = analyze(storage + "0"s + module + "."s);
  EXPECT_EQ(whole_module.foreign_persistent_id, "module");
  EXPECT_EQ(whole_module.foreign_persistent_at, storage.size() + 1 + module.size() - 1);
}
