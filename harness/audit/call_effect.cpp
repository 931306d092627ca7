#include "audit/call_effect.h"

#include "util/version_key.h"

#include <fmt/core.h>
#include <set>
#include <vector>

namespace loadmatrix {

const char* call_outcome_name(CallOutcome outcome) {
  switch (outcome) {
  case CallOutcome::weights_only:
    return "weights_only";
  case CallOutcome::full:
    return "full";
  case CallOutcome::error:
    return "error";
  case CallOutcome::unknown:
    return "unknown";
  case CallOutcome::not_reached:
    return "not_reached";
  }
  return "unknown";
}

Unguarded unguarded_load(std::string_view callee) {
  if (callee == "torch.export.load") {
    return Unguarded::internal_fallback;
  }
  for (std::string_view name :
       {"torch.distributed.checkpoint.load", "torch.distributed.checkpoint.load_state_dict",
        "torch.distributed.checkpoint.state_dict_loader.load",
        "torch.distributed.checkpoint.state_dict_loader.load_state_dict"}) {
    if (callee == name) {
      return Unguarded::plain_pickle;
    }
  }
  return Unguarded::no;
}

namespace {

// The values an argument may take as written: a literal is one, a dynamic one is each.
std::vector<std::string> weights_only_values(WrittenWeightsOnly written) {
  switch (written) {
  case WrittenWeightsOnly::omitted:
    return {"omitted"};
  case WrittenWeightsOnly::true_:
    return {"true"};
  case WrittenWeightsOnly::false_:
    return {"false"};
  case WrittenWeightsOnly::none:
    return {"none"};
  case WrittenWeightsOnly::dynamic:
    return {"true", "false", "omitted"};
  }
  return {"omitted"};
}

std::vector<bool> passed_values(ArgumentUse use) {
  switch (use) {
  case ArgumentUse::omitted:
    return {false};
  case ArgumentUse::passed:
    return {true};
  case ArgumentUse::dynamic:
    return {false, true};
  }
  return {false};
}

std::string describe_form(std::string_view weights_only, bool pickle_module, bool mmap) {
  std::string text = weights_only == "omitted" ? "weights_only left out"
                     : weights_only == "true"  ? "weights_only=True"
                     : weights_only == "false" ? "weights_only=False"
                                               : "weights_only=None";
  if (pickle_module) {
    text += ", pickle_module passed";
  }
  if (mmap) {
    text += ", mmap passed";
  }
  return text;
}

std::string describe_effect(const MeasuredEffect& measured) {
  switch (measured.effect) {
  case LoadEffect::weights_only:
    return "the weights-only unpickler";
  case LoadEffect::full:
    return "the full unpickler";
  case LoadEffect::error:
    return "raises " + measured.error;
  }
  return "";
}

CallOutcome outcome_of(LoadEffect effect) {
  switch (effect) {
  case LoadEffect::weights_only:
    return CallOutcome::weights_only;
  case LoadEffect::full:
    return CallOutcome::full;
  case LoadEffect::error:
    return CallOutcome::error;
  }
  return CallOutcome::unknown;
}

} // namespace

CallEffect call_effect(const CallSite& call, const LoaderFacts* facts, std::string_view variable,
                       bool has_safe_globals, std::string_view torch) {
  if (Unguarded kind = unguarded_load(call.callee); kind != Unguarded::no) {
    // Where each first appeared: torch.export in 2.1, torch.distributed.checkpoint's
    // load_state_dict in 2.0 and its load in 2.2.
    std::string_view since = kind == Unguarded::internal_fallback       ? "2.1"
                             : call.callee.ends_with("load_state_dict") ? "2.0"
                                                                        : "2.2";
    if (!torch.empty() && version_key(std::string(torch)) < version_key(std::string(since))) {
      return {CallOutcome::error,
              fmt::format("this torch has no {} (added in {})", call.callee, since)};
    }
    return {CallOutcome::full,
            kind == Unguarded::plain_pickle
                ? "torch.distributed.checkpoint unpickles the checkpoint's .metadata with "
                  "pickle.load (FileSystemReader.read_metadata), whatever weights_only says"
                : "torch.export.load unpickles the archive's pickled state with the full "
                  "unpickler: weights_only=False (torch 2.6; 2.14's pickled weights), or after "
                  "any failure of a weights_only=True attempt (2.14's other pickled state)"};
  }
  if (call.in_safe_globals && !has_safe_globals) {
    return {CallOutcome::error, "this torch has no torch.serialization.safe_globals: the `with` "
                                "around the call raises AttributeError"};
  }
  if (facts == nullptr) {
    return {CallOutcome::unknown,
            "this env's loaders were not measured (provision it again: loadmatrix envs provision)"};
  }
  if (!facts->has_loader(call.callee)) {
    return {CallOutcome::error, fmt::format("this torch has no {}", call.callee)};
  }
  std::string under = variable.empty() ? "" : fmt::format(" under {}", variable);
  std::set<CallOutcome> outcomes;
  std::vector<std::string> reasons;
  for (const auto& weights_only : weights_only_values(call.weights_only)) {
    for (bool pickle_module : passed_values(call.pickle_module)) {
      for (bool mmap : passed_values(call.mmap)) {
        const MeasuredEffect* measured =
            facts->find(variable, call.callee, loader_form(weights_only, pickle_module, mmap));
        if (measured == nullptr) {
          return {CallOutcome::unknown,
                  fmt::format("not measured in this env: {}{}",
                              describe_form(weights_only, pickle_module, mmap), under)};
        }
        outcomes.insert(outcome_of(measured->effect));
        reasons.push_back(fmt::format("{}{}: {}", describe_form(weights_only, pickle_module, mmap),
                                      under, describe_effect(*measured)));
      }
    }
  }
  if (outcomes.size() == 1) {
    std::string reason;
    for (const auto& part : reasons) {
      reason += (reason.empty() ? "" : "; ") + part;
    }
    return {*outcomes.begin(), std::move(reason)};
  }
  std::string possible;
  for (CallOutcome outcome : outcomes) {
    possible += (possible.empty() ? "" : " or ") + std::string(call_outcome_name(outcome));
  }
  return {CallOutcome::unknown,
          fmt::format("depends on values the source does not fix{}: {}", under, possible)};
}

} // namespace loadmatrix
