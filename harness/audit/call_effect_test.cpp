#include "audit/call_effect.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

// Facts shaped as the envs measured them (fingerprint.py, 2026-11-30): bookworm's torch 1.13
// defaults to the full unpickler and raises for mmap; trixie's 2.6 defaults to weights-only,
// except with pickle_module; the hub wrapper defaults to weights_only=False on both.
LoaderFacts facts(bool weights_only_default, bool knows_mmap) {
  LoaderFacts out;
  for (std::string variable : {"", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1"}) {
    bool forced_full = !variable.empty();
    for (std::string loader : {"torch.load", "torch.hub.load_state_dict_from_url"}) {
      bool hub = loader != "torch.load";
      for (std::string written : {"omitted", "true", "false", "none"}) {
        for (bool pickle_module : {false, true}) {
          for (bool mmap : {false, true}) {
            MeasuredEffect effect;
            if ((mmap && !knows_mmap) || (hub && (pickle_module || mmap))) {
              effect = {LoadEffect::error, "TypeError: unexpected keyword argument"};
            } else if (written == "true") {
              effect = {LoadEffect::weights_only, ""};
            } else if (written == "false" || pickle_module || forced_full ||
                       (hub && written == "omitted")) {
              effect = {LoadEffect::full, ""};
            } else {
              effect = {weights_only_default ? LoadEffect::weights_only : LoadEffect::full, ""};
            }
            out.by_variable[variable][loader][loader_form(written, pickle_module, mmap)] = effect;
          }
        }
      }
    }
  }
  return out;
}

CallSite call(WrittenWeightsOnly weights_only, ArgumentUse pickle_module = ArgumentUse::omitted,
              ArgumentUse mmap = ArgumentUse::omitted) {
  CallSite site;
  site.callee = "torch.load";
  site.weights_only = weights_only;
  site.pickle_module = pickle_module;
  site.mmap = mmap;
  return site;
}

} // namespace

TEST(CallEffectTest, ALeftOutWeightsOnlyIsEachTorchsMeasuredDefault) {
  LoaderFacts old = facts(false, false);
  LoaderFacts flipped = facts(true, true);
  EXPECT_EQ(call_effect(call(WrittenWeightsOnly::omitted), &old, "").effective, CallOutcome::full);
  CallEffect now = call_effect(call(WrittenWeightsOnly::omitted), &flipped, "");
  EXPECT_EQ(now.effective, CallOutcome::weights_only);
  EXPECT_EQ(now.reason, "weights_only left out: the weights-only unpickler");
  EXPECT_EQ(call_effect(call(WrittenWeightsOnly::none), &flipped, "").effective,
            CallOutcome::weights_only);
}

TEST(CallEffectTest, PickleModuleAndTheForceVariableChangeTheUnpickler) {
  LoaderFacts flipped = facts(true, true);
  EXPECT_EQ(
      call_effect(call(WrittenWeightsOnly::omitted, ArgumentUse::passed), &flipped, "").effective,
      CallOutcome::full);
  CallEffect forced = call_effect(call(WrittenWeightsOnly::omitted), &flipped,
                                  "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1");
  EXPECT_EQ(forced.effective, CallOutcome::full);
  EXPECT_NE(forced.reason.find("under TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1"), std::string::npos);
}

TEST(CallEffectTest, AnArgumentThisTorchLacksIsAnErrorWithItsMeasuredText) {
  LoaderFacts old = facts(false, false);
  CallEffect effect = call_effect(
      call(WrittenWeightsOnly::true_, ArgumentUse::omitted, ArgumentUse::passed), &old, "");
  EXPECT_EQ(effect.effective, CallOutcome::error);
  EXPECT_NE(effect.reason.find("TypeError"), std::string::npos);
}

TEST(CallEffectTest, ADynamicValueIsUnknownWhenItsValuesDisagreeAndNamesThePossibilities) {
  LoaderFacts flipped = facts(true, true);
  CallEffect effect = call_effect(call(WrittenWeightsOnly::dynamic), &flipped, "");
  EXPECT_EQ(effect.effective, CallOutcome::unknown);
  EXPECT_EQ(effect.reason, "depends on values the source does not fix: weights_only or full");
}

TEST(CallEffectTest, MissingFactsAndMissingLoadersAndSafeGlobalsAreSaidSo) {
  LoaderFacts flipped = facts(true, true);
  EXPECT_EQ(call_effect(call(WrittenWeightsOnly::true_), nullptr, "").effective,
            CallOutcome::unknown);
  CallSite model_zoo = call(WrittenWeightsOnly::true_);
  model_zoo.callee = "torch.utils.model_zoo.load_url";
  EXPECT_EQ(call_effect(model_zoo, &flipped, "").effective, CallOutcome::error);
  CallSite guarded = call(WrittenWeightsOnly::true_);
  guarded.in_safe_globals = true;
  CallEffect effect = call_effect(guarded, &flipped, "", /*has_safe_globals=*/false);
  EXPECT_EQ(effect.effective, CallOutcome::error);
  EXPECT_NE(effect.reason.find("safe_globals"), std::string::npos);
}

TEST(CallEffectTest, UnguardedLoadsAreTheFullUnpicklerWhereTheirTorchHasThem) {
  CallSite call;
  call.callee = "torch.distributed.checkpoint.load";
  EXPECT_EQ(unguarded_load(call.callee), Unguarded::plain_pickle);
  EXPECT_EQ(unguarded_load("torch.export.load"), Unguarded::internal_fallback);
  EXPECT_EQ(unguarded_load("torch.load"), Unguarded::no);
  // No loader facts are needed: the source decides, whatever weights_only the call writes.
  call.weights_only = WrittenWeightsOnly::true_;
  CallEffect effect = call_effect(call, nullptr, "", true, "2.6.0+debian");
  EXPECT_EQ(effect.effective, CallOutcome::full);
  EXPECT_NE(effect.reason.find("pickle.load (FileSystemReader.read_metadata)"), std::string::npos);
  EXPECT_EQ(call_effect(call, nullptr, "", true, "2.1.2").effective, CallOutcome::error);
  call.callee = "torch.distributed.checkpoint.load_state_dict";
  EXPECT_EQ(call_effect(call, nullptr, "", true, "2.1.2").effective, CallOutcome::full);
  call.callee = "torch.export.load";
  EXPECT_EQ(call_effect(call, nullptr, "", true, "1.13.0a0").reason,
            "this torch has no torch.export.load (added in 2.1)");
}
