#include "records/classify.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

Json raised(const std::string& message, const std::string& type = "UnpicklingError") {
  return {{"status", "raised"}, {"error_type", type}, {"message", message}};
}

// Wordings copied from the three Debian torch versions' own refusals.
const char* const kTorch113 =
    "Weights only load failed. Re-running `torch.load` with `weights_only` set to `False` will "
    "likely succeed, but it can result in arbitrary code execution.Do it only if you get the "
    "file from a trusted source. WeightsUnpickler error: Unsupported class argparse.Namespace";
const char* const kTorch26 =
    "Weights only load failed. This file can still be loaded, to do so you have two options, "
    "\x1b[1mdo those steps only if you trust the source of the checkpoint\x1b[0m. \n\t(1) ...\n"
    "WeightsUnpickler error: Unsupported global: GLOBAL numpy.core.multiarray._reconstruct was "
    "not an allowed global by default. Please use `torch.serialization.add_safe_globals("
    "[_reconstruct])` or ...";
const char* const kTorch214Builtin =
    "Weights only load failed. ... WeightsUnpickler error: Unsupported global: GLOBAL getattr "
    "was not an allowed global by default.";
const char* const kBlocklisted =
    "Weights only load failed. ... Trying to load unsupported GLOBAL posix.getcwd whose module "
    "posix is blocked.";
const char* const kBuild113 =
    "Weights only load failed. ... WeightsUnpickler error: Trying to instantiate unsupported "
    "class <class 'argparse.Namespace'>";

} // namespace

TEST(ClassifyTest, ParsesEachVersionsRefusalWording) {
  Refusal old = parse_refusal("UnpicklingError", kTorch113);
  EXPECT_TRUE(old.weights_only);
  EXPECT_EQ(old.reason, BlockReason::global_not_allowed);
  EXPECT_EQ(old.globals, std::vector<std::string>{"argparse.Namespace"});

  Refusal flip = parse_refusal("UnpicklingError", kTorch26);
  EXPECT_EQ(flip.reason, BlockReason::global_not_allowed);
  EXPECT_EQ(flip.globals, std::vector<std::string>{"numpy.core.multiarray._reconstruct"});

  // 2.14 prints builtins without their module.
  EXPECT_EQ(parse_refusal("UnpicklingError", kTorch214Builtin).globals,
            std::vector<std::string>{"builtins.getattr"});

  Refusal blocked = parse_refusal("UnpicklingError", kBlocklisted);
  EXPECT_EQ(blocked.reason, BlockReason::module_blocklisted);
  EXPECT_EQ(blocked.globals, std::vector<std::string>{"posix.getcwd"});

  Refusal build = parse_refusal("UnpicklingError", kBuild113);
  EXPECT_EQ(build.reason, BlockReason::build_not_allowed);
  EXPECT_EQ(build.globals, std::vector<std::string>{"argparse.Namespace"});

  Refusal opcode = parse_refusal("UnpicklingError",
                                 "Weights only load failed. WeightsUnpickler error: Unsupported "
                                 "operand 149");
  EXPECT_EQ(opcode.reason, BlockReason::unsupported_opcode);
  EXPECT_TRUE(opcode.globals.empty());
}

TEST(ClassifyTest, OtherExceptionsAreErrorsNotBlocks) {
  Classification numpy2 =
      classify(raised("No module named 'numpy._core'", "ModuleNotFoundError"), nullptr);
  EXPECT_EQ(numpy2.outcome, Outcome::error);
  EXPECT_EQ(numpy2.error_type, "ModuleNotFoundError");
  EXPECT_FALSE(parse_refusal("RuntimeError", "PytorchStreamReader failed").weights_only);
}

TEST(ClassifyTest, StripsAnsiCodesFromMessages) {
  Classification c = classify(raised(kTorch26), nullptr);
  EXPECT_EQ(c.outcome, Outcome::blocked);
  EXPECT_EQ(c.message.find('\x1b'), std::string::npos);
  EXPECT_NE(c.message.find("do those steps only if you trust"), std::string::npos);
}

TEST(ClassifyTest, EveryProbeStatusMapsToOneOutcome) {
  Json described = {{"dict", "dict"}, {"items", Json::array()}};
  EXPECT_EQ(classify({{"status", "returned"}, {"description", described}}, &described).outcome,
            Outcome::pass);
  Json other = {{"dict", "dict"}, {"items", Json::array({1})}};
  Classification mismatch = classify({{"status", "returned"}, {"description", other}}, &described);
  EXPECT_EQ(mismatch.outcome, Outcome::mismatch);
  EXPECT_EQ(mismatch.detail, "content differs at $.items: 1 items, expected 0");
  Classification crash = classify({{"status", "crashed"}, {"signal", 11}}, nullptr);
  EXPECT_EQ(crash.outcome, Outcome::crash);
  EXPECT_EQ(crash.detail, "killed by signal 11 (Segmentation fault)");
  EXPECT_EQ(classify({{"status", "timeout"}}, nullptr).outcome, Outcome::timeout);
  Classification unsupported =
      classify({{"status", "unsupported"}, {"reason", "torch.load has no mmap argument"}}, nullptr);
  EXPECT_EQ(unsupported.outcome, Outcome::unsupported);
  EXPECT_EQ(unsupported.detail, "torch.load has no mmap argument");
  EXPECT_EQ(classify({{"garbage", true}}, nullptr).outcome, Outcome::error);
}

TEST(ClassifyTest, DangerousGlobalsAreRecognised) {
  for (const char* name :
       {"os.system", "posix.system", "subprocess.Popen", "builtins.eval", "builtins.exec",
        "builtins.getattr", "builtins.__import__", "pickle.loads", "nt.system", "os.path.join",
        "torch.load", "torch.hub.load"}) {
    EXPECT_TRUE(is_dangerous_global(name)) << name;
  }
  for (const char* name : {"argparse.Namespace", "collections.defaultdict", "numpy.dtype",
                           "torch.nn.modules.linear.Linear", "builtins.set", "ossify.x", "os",
                           "torch.hub.list", "builtins.evaluate"}) {
    EXPECT_FALSE(is_dangerous_global(name)) << name;
  }
}

// A 1.7 optimizer loaded by 1.13: its __setstate__ adds defaults the file never had. Every saved
// value is there, so it is not a broken file; a value that changed is, even beside added ones.
TEST(ClassifyTest, FieldsTheLoadersClassAddedAreNotAMismatchButAChangedValueIs) {
  auto item = [](const char* key, Json value) { return Json::array({key, std::move(value)}); };
  auto dict = [](std::vector<Json> items) {
    return Json{{"dict", "dict"}, {"items", Json(std::move(items))}};
  };
  auto sgd = [&](Json defaults) {
    return Json{{"object", "SGD"}, {"attrs", dict({item("'defaults'", std::move(defaults))})}};
  };
  Json lr = {{"float", "0.1"}};
  Json saved = dict({item("'optimizer'", sgd(dict({item("'lr'", lr), item("'momentum'", 0)})))});
  Json loaded =
      dict({item("'optimizer'",
                 sgd(dict({item("'differentiable'", false), item("'foreach'", nullptr),
                           item("'lr'", lr), item("'maximize'", false), item("'momentum'", 0)})))});
  Classification added = classify({{"status", "returned"}, {"description", loaded}}, &saved);
  EXPECT_EQ(added.outcome, Outcome::pass);
  EXPECT_EQ(added.detail, "every saved value intact; the loading version's classes added 3 "
                          "field(s): ['optimizer']['defaults']['differentiable'], "
                          "['optimizer']['defaults']['foreach'], "
                          "['optimizer']['defaults']['maximize']");

  Json changed = dict(
      {item("'optimizer'", sgd(dict({item("'differentiable'", false),
                                     item("'lr'", {{"float", "0.01"}}), item("'momentum'", 0)})))});
  EXPECT_EQ(classify({{"status", "returned"}, {"description", changed}}, &saved).outcome,
            Outcome::mismatch);
  Json dropped = dict({item("'optimizer'", sgd(dict({item("'lr'", lr)})))});
  EXPECT_EQ(classify({{"status", "returned"}, {"description", dropped}}, &saved).outcome,
            Outcome::mismatch);
  // A plain dict the file saved with fewer keys is not a class's addition.
  Json plain = dict({item("'lr'", lr)});
  Json more = dict({item("'lr'", lr), item("'step'", 3)});
  EXPECT_EQ(classify({{"status", "returned"}, {"description", more}}, &plain).outcome,
            Outcome::mismatch);
  Json other_class = loaded;
  other_class["items"][0][1]["object"] = "Adam";
  EXPECT_EQ(classify({{"status", "returned"}, {"description", other_class}}, &saved).outcome,
            Outcome::mismatch);
}

// 2.14 refuses a legacy whole-module save's ("module", cls, ...) persistent id as "but got
// <class 'str'>": a refusal naming no global of the file, not a BUILD of builtins.str.
TEST(ClassifyTest, APersistentIdThatIsNotAStorageNamesNoGlobal) {
  Refusal refusal = parse_refusal("UnpicklingError",
                                  "Weights only load failed. ... WeightsUnpickler error: \n\nOnly "
                                  "persistent_load of storage is allowed, but got <class 'str'>");
  EXPECT_TRUE(refusal.weights_only);
  EXPECT_EQ(refusal.reason, BlockReason::other);
  EXPECT_TRUE(refusal.globals.empty());
}
