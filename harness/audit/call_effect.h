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
  // this env's installed packages do not route the call to this load (audit
  // --follow-installed: the env's own library version goes elsewhere, or nowhere)
  not_reached,
};
// "weights_only", "full", "error", "unknown", "not_reached"
const char* call_outcome_name(CallOutcome outcome);

// Loads weights_only does not guard (runtime/audit_names.py UNGUARDED), read in torch's
// sources: torch.distributed.checkpoint unpickles the checkpoint's .metadata with pickle.load
// (FileSystemReader.read_metadata; 2.6 and 2.14 alike), and torch.export.load unpickles the
// archive's pickled state with the full unpickler: weights_only=False in 2.6's
// _export/serde/serialize.py and 2.14's export/pt2_archive/_package.py (pickled weights), and
// after any failure of a weights_only=True attempt in 2.14's serialize.py.
enum class Unguarded : uint8_t { no, plain_pickle, internal_fallback };
Unguarded unguarded_load(std::string_view callee);

struct CallEffect {
  CallOutcome effective = CallOutcome::unknown;
  std::string reason; // one sentence: the form, and what this torch measured for it
};

// `variable`: "" or a TORCH_FORCE_* variable as "NAME=1" (audit's --assume-env). `facts`
// nullptr: the env has no loader facts (measured by an older fingerprint). `has_safe_globals`:
// the env's torch.serialization has safe_globals (2.5+), which a call inside
// `with safe_globals(...)` needs before it is even reached.
// An unguarded load (above) is the full unpickler wherever its torch has it: `torch`, the env's
// version, says where it does not ("" when unknown: assumed present).
CallEffect call_effect(const CallSite& call, const LoaderFacts* facts, std::string_view variable,
                       bool has_safe_globals = true, std::string_view torch = "");

} // namespace loadmatrix
