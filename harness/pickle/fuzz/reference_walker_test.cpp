// The fast walker (analyze_pickle) against the plain reference walker, on hand-written pickles
// and on seeded mutations of them: the same differential check the fuzzer makes, run by every
// `ctest -L unit` where no clang or libFuzzer is needed.
#include "pickle/fuzz/reference_walker.h"

#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

using namespace loadmatrix;
using namespace std::string_literals;

namespace {

void append_unicode(std::string& out, const std::string& text) {
  out += "X";
  for (int i = 0; i < 4; ++i) {
    out += static_cast<char>((text.size() >> (8 * i)) & 0xff);
  }
  out += text;
}

// A state_dict as torch.save writes it under protocol 2: an OrderedDict of _rebuild_tensor_v2
// calls, the globals reached through the memo after their first use.
std::string state_dict_pickle(int tensors) {
  std::string out = "\x80\x02"
                    "ccollections\nOrderedDict\nq\x00)Rq\x01("s;
  for (int i = 0; i < tensors; ++i) {
    append_unicode(out, "layers." + std::to_string(i) + ".weight");
    out += i == 0 ? "ctorch._utils\n_rebuild_tensor_v2\nq\x02"s : "h\x02"s;
    out += "((";
    append_unicode(out, "storage");
    out += i == 0 ? "ctorch\nFloatStorage\nq\x03"s : "h\x03"s;
    append_unicode(out, std::to_string(i));
    append_unicode(out, "cpu");
    out += "M\x00\x04tQK\x00M\x00\x01K\x04\x86K\x04K\x01\x86\x89h\x00)RtR"s;
  }
  return out + "u.";
}

std::vector<std::string> seeds() {
  return {
      "cos\nsystem\n(S'echo hi'\ntR."s,
      "\x80\x02"
      "c__builtin__\nset\nq\x00]q\x01(K\x01K\x02"
      "e\x85q\x02Rq\x03."s,
      "\x80\x04\x95\x33\x00\x00\x00\x00\x00\x00\x00\x8c\x08"
      "argparse\x94\x8c\x09"
      "Namespace\x94\x93\x94)\x81\x94}\x94\x8c\x02"
      "lr\x94G?\xb9\x99\x99\x99\x99\x99\x9a"
      "sb."s,
      "\x80\x04\x8c\x05posix\x94\x8c\x06system\x94"
      "00h\x00h\x01\x93\x8c\x02id\x85R."s,
      "\x80\x05\x97\x98\x96\x02\x00\x00\x00\x00\x00\x00\x00"
      "ab\x86."s,
      "\x80\x02\x82\x07)R."s,
      "(I1\nicollections\nOrderedDict\n."s,
      "(cdatetime\ndate\nI2020\nI1\nI1\no."s,
      "\x80\x02X\x07\x00\x00\x00storageQ."s,
      // numpy.dtype('f4') built with its state, as numpy pickles it.
      "\x80\x02"
      "cnumpy\ndtype\nq\x00X\x02\x00\x00\x00"
      "f4K\x00K\x01\x87Rq\x01(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb."s,
      // A dict subclass filled by SETITEMS, then a list subclass by APPENDS.
      "\x80\x02"
      "ccollections\ndefaultdict\n)R(K\x01K\x02u"
      "ccollections\nUserList\n)R(K\x01"
      "e\x86."s,
      // Sets, frozensets, text memo keys, DUP and the text scalars.
      "\x80\x04\x8f(K\x01\x90(K\x02\x91p7\ng7\n2\x8a\x02\x01\x00L12\nF1.5\nV\xc3\xa9\n."s,
      state_dict_pickle(20),
  };
}

void expect_same(const std::string& bytes, const PickleLimits& limits) {
  std::string difference =
      analysis_difference(analyze_pickle(bytes, limits), reference_analyze_pickle(bytes, limits));
  EXPECT_EQ(difference, "") << "on " << testing::PrintToString(bytes);
}

} // namespace

TEST(ReferenceWalkerTest, AgreesOnEverySeed) {
  for (const std::string& seed : seeds()) {
    ASSERT_TRUE(reference_analyze_pickle(seed)) << testing::PrintToString(seed);
    expect_same(seed, {});
  }
}

TEST(ReferenceWalkerTest, AgreesOnMutatedSeedsUnderTightBudgets) {
  // Budgets a mutation reaches: every limit's error is compared too.
  const std::vector<PickleLimits> budgets = {{}, {40, 30, 12, 4, 3}, {7, 2, 3, 1, 1}};
  std::mt19937 random(20261130);
  for (const std::string& seed : seeds()) {
    for (int round = 0; round < 400; ++round) {
      std::string bytes = seed;
      int edits = 1 + static_cast<int>(random() % 4);
      for (int edit = 0; edit < edits && !bytes.empty(); ++edit) {
        size_t at = random() % bytes.size();
        switch (random() % 4) {
        case 0:
          bytes[at] = static_cast<char>(random());
          break;
        case 1:
          bytes.insert(at, 1, static_cast<char>(random()));
          break;
        case 2:
          bytes.erase(at, 1 + random() % 3);
          break;
        default:
          bytes.resize(at);
        }
      }
      for (const PickleLimits& limits : budgets) {
        expect_same(bytes, limits);
      }
    }
  }
}
