// What one call site does in one env: the env's measured effect (envs/loader_facts.h) for the
// form the call is written in. A pure function of the call and the facts, so every rule and
// report reads the same answer.
#pragma once

#include "audit/call_site.h"
#include "envs/loader_facts.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace loadmatrix {

enum class CallOutcome : uint8_t {
  weights_only, // the restricted unpickler
  full,         // the full unpickler: runs code
  error,        // raises before loading (TypeError: an argument this torch does not know)
  unknown,      // depends on a value the source does not fix, or the env measured nothing
};
const char* call_outcome_name(CallOutcome outcome); // "weights_only", "full", "error", "unknown"

struct CallEffect {
  CallOutcome effective = CallOutcome::unknown;
  std::string reason; // one sentence: the form, and what this torch measured for it
};

// `variable`: "" or a TORCH_FORCE_* variable as "NAME=1" (audit's --assume-env). `facts`
// nullptr: the env has no loader facts (measured by an older fingerprint). `has_safe_globals`:
// the env's torch.serialization has safe_globals (2.5+), which a call inside
// `with safe_globals(...)` needs before it is even reached.
CallEffect call_effect(const CallSite& call, const LoaderFacts* facts, std::string_view variable,
                       bool has_safe_globals = true);

} // namespace loadmatrix
