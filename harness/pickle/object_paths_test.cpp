// Where each global sits in the saved object, on pickles Python itself writes (protocols 2 and
// 4: memo by BINPUT or MEMOIZE, GLOBAL or STACK_GLOBAL, framing).
#include "pickle/object_paths.h"
#include "util/process.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

// pickle.dumps(`expression`, protocol) by the host's Python: the test's pickles are what
// Python writes, not what this file's author believes it writes.
std::string pickled(const std::string& expression, int protocol) {
  SystemProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"/usr/bin/python3", "-c",
               "import argparse, decimal, pickle, sys, types\n"
               "shared = decimal.Decimal(7)\n"
               "sys.stdout.buffer.write(pickle.dumps(" +
                   expression + ", protocol=" + std::to_string(protocol) + "))"};
  ProcessResult result = runner.run(spec);
  EXPECT_TRUE(result.succeeded()) << result.stderr_text;
  return result.stdout_text;
}

std::map<std::string, std::string> paths(const std::string& expression, int protocol) {
  auto found = global_object_paths(pickled(expression, protocol));
  EXPECT_TRUE(found) << found.error().message;
  return found ? *found : std::map<std::string, std::string>{};
}

} // namespace

TEST(ObjectPathsTest, DictKeysListPositionsAndAttributesLeadToEachGlobal) {
  for (int protocol : {2, 4}) {
    SCOPED_TRACE(protocol);
    // Lightning's hyper_parameters holding an argparse.Namespace.
    auto nested = paths("{'hyper_parameters': {'specifications': argparse.Namespace(lr=0.1)},"
                        " 'state_dict': {'w': [1.0]}}",
                        protocol);
    EXPECT_EQ(nested["argparse.Namespace"], "[\"hyper_parameters\"][\"specifications\"]");
    // fairseq's optimizer_history, a numpy-scalar-like object deep inside.
    auto history =
        paths("{'optimizer_history': [{'lr_scheduler_state': {'best': decimal.Decimal('1.5')}}]}",
              protocol);
    EXPECT_EQ(history["decimal.Decimal"],
              "[\"optimizer_history\"][0][\"lr_scheduler_state\"][\"best\"]");
    // A BUILD state dict's keys are attributes of the object built.
    auto attribute = paths("{'cfg': types.SimpleNamespace(inner=decimal.Decimal(2))}", protocol);
    EXPECT_EQ(attribute["types.SimpleNamespace"], "[\"cfg\"]");
    EXPECT_EQ(attribute["decimal.Decimal"], "[\"cfg\"].inner");
    // Tuple and list positions (APPENDS into a list inside TUPLE2).
    auto positions = paths("{'rng': ('MT', [1, decimal.Decimal(3)])}", protocol);
    EXPECT_EQ(positions["decimal.Decimal"], "[\"rng\"][1][1]");
    // The returned object itself.
    auto root = paths("decimal.Decimal(1)", protocol);
    ASSERT_TRUE(root.contains("decimal.Decimal"));
    EXPECT_EQ(root["decimal.Decimal"], "");
    // An object met twice through the memo keeps the first place it was put.
    auto shared = paths("{'a': {'first': shared}, 'b': shared}", protocol);
    EXPECT_EQ(shared["decimal.Decimal"], "[\"a\"][\"first\"]");
  }
}

TEST(ObjectPathsTest, AKeyIsShownEscapedAndCutAndOddKeysAreOpaque) {
  auto odd = paths("{'say \"hi\"\\n': decimal.Decimal(1), 3: {(1, 2): decimal.Decimal(2)},"
                   " 'x' * 100: argparse.Namespace()}",
                   2);
  EXPECT_EQ(odd["decimal.Decimal"], "[\"say \\\"hi\\\"\\x0a\"]");
  EXPECT_EQ(odd["argparse.Namespace"], "[\"" + std::string(64, 'x') + "…\"]");
  auto integer = paths("{3: {(1, 2): decimal.Decimal(2)}}", 2);
  EXPECT_EQ(integer["decimal.Decimal"], "[3][…]");
}

TEST(ObjectPathsTest, MalformedBytesAreAnErrorWithTheOffset) {
  // BINUNICODE of 5 bytes with 2 left: the error is at the string's first byte.
  auto truncated = global_object_paths(std::string("\x80\x02}q\x00(X\x05\x00\x00\x00"
                                                   "ab",
                                                   13));
  ASSERT_FALSE(truncated);
  EXPECT_NE(truncated.error().message.find("offset 11: needs 5 bytes, 2 left"), std::string::npos)
      << truncated.error().message;
  auto underflow = global_object_paths(std::string("\x80\x02s.", 4));
  ASSERT_FALSE(underflow);
  EXPECT_NE(underflow.error().message.find("stack underflow"), std::string::npos);
}

// Hostile shapes stay within bounds: copies of a long string cost nothing (views), a file that
// makes millions of values is refused by count, and uses that lead nowhere are walked once.
TEST(ObjectPathsTest, HostileShapesStayWithinBounds) {
  std::string text(4000, 'k');
  std::string dups = "\x80\x02X" + std::string("\xa0\x0f\x00\x00", 4) + text +
                     std::string(1'000'000, '2') + "cos\nsystem\n.";
  auto copied = global_object_paths(dups);
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(copied->at("os.system"), "");

  std::string tuples = "\x80\x02]" + std::string(2'100'000, '\x85') + ".";
  auto many = global_object_paths(tuples);
  ASSERT_FALSE(many);
  EXPECT_NE(many.error().message.find("more than 2000000 objects"), std::string::npos)
      << many.error().message;

  // 200,000 REDUCEs of one global into a list that is then dropped: none reaches the result.
  std::string unreachable = "\x80\x02]";
  for (int i = 0; i < 200'000; ++i) {
    unreachable += "cdecimal\nDecimal\n)Ra";
  }
  unreachable += "0}.";
  auto nowhere = global_object_paths(unreachable);
  ASSERT_TRUE(nowhere) << nowhere.error().message;
  EXPECT_FALSE(nowhere->contains("decimal.Decimal"));
}

// Protocols 0 and 1 spell keys, ints and memo keys as text lines and build containers above
// MARKs: the same paths come out.
TEST(ObjectPathsTest, TextProtocolsLeadToTheSamePlaces) {
  for (int protocol : {0, 1}) {
    SCOPED_TRACE(protocol);
    EXPECT_EQ(paths("{'optimizer_history': [{'lr_scheduler_state': {'best': decimal.Decimal(1)}}]}",
                    protocol)["decimal.Decimal"],
              "[\"optimizer_history\"][0][\"lr_scheduler_state\"][\"best\"]");
    EXPECT_EQ(paths("{'cfg': types.SimpleNamespace(inner=decimal.Decimal(2))}",
                    protocol)["decimal.Decimal"],
              "[\"cfg\"].inner");
    EXPECT_EQ(paths("{'a': {'first': shared}, 'b': shared}", protocol)["decimal.Decimal"],
              "[\"a\"][\"first\"]");
    EXPECT_EQ(paths("{3: {(1, 2): decimal.Decimal(2)}}", protocol)["decimal.Decimal"], "[3][…]");
  }
}

// Shapes Python does not write but a file can hold: a quoted STRING as a STACK_GLOBAL name is
// read without its quotes, and the errors name what they always named.
TEST(ObjectPathsTest, HandMadeShapesAndTheirErrors) {
  auto quoted = global_object_paths("}S'k'\nS'os'\nS'system'\n\x93)Rs.");
  ASSERT_TRUE(quoted) << quoted.error().message;
  EXPECT_EQ(quoted->at("os.system"), "[\"k\"]");

  auto protocol = global_object_paths("\x80\x06N.");
  ASSERT_FALSE(protocol);
  EXPECT_EQ(protocol.error().message, "offset 0: unsupported pickle protocol");

  // Past the opcode budget, the error is at the last opcode walked.
  PickleLimits limits;
  limits.max_opcodes = 3;
  auto budget = global_object_paths("NNNNN.", limits);
  ASSERT_FALSE(budget);
  EXPECT_EQ(budget.error().message, "offset 2: more than 3 opcodes");

  auto empty = global_object_paths(".");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message, "offset 0: stack underflow");
}
