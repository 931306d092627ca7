// The audit's findings: stable rule ids, each with a message naming the envs it concerns and a
// suggested change checked against every env's measured loaders, so a library that still
// supports an old torch is never told to write what raises TypeError there. Pure functions of a
// call site and the envs' facts.
#pragma once

#include "audit/call_effect.h"
#include "audit/call_site.h"
#include "util/sarif_log.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

// A rule as SARIF's reportingDescriptor describes it.
using AuditRule = SarifRule;
// LMA001-LMA010, in id order.
const std::vector<AuditRule>& audit_rules();

// One env as the rules see it.
struct AuditEnv {
  std::string name;  // "trixie"
  std::string torch; // "2.6.0+debian"
  const LoaderFacts* facts = nullptr;
  bool has_add_safe_globals = false; // torch.serialization.add_safe_globals (2.4+)
  bool has_safe_globals = false;     // torch.serialization.safe_globals (2.5+)
  CallEffect effect;                 // the call's effect there, under the assumed variable
};

struct Finding {
  std::string rule;       // AuditRule::id
  std::string message;    // what happens, naming the envs
  std::string suggestion; // the change, as code where there is one, checked on every env
};

std::vector<Finding> audit_findings(const CallSite& call, const std::vector<AuditEnv>& envs,
                                    std::string_view variable);

// One row of a call that reaches its loader through helpers, as some envs' installed packages
// route it (audit --follow-installed gives a row per distinct route): the call site and the
// envs it is theirs, each with its effect.
struct RouteRow {
  const CallSite* site = nullptr;
  std::vector<AuditEnv> envs;
};

// LMA010: the rows of one call (same place, same loader) whose envs' library releases load
// differently: the full unpickler through one release, the weights-only one through another
// (Lightning 2.5.6 forced weights_only=False in load_from_checkpoint, 2.6.0 passes None on).
// A row's release is its first hop's distribution and version; rows of one release (a helper's
// two branches) never count. One finding for every row, or none when the releases agree.
std::optional<Finding> route_changed(const std::vector<RouteRow>& rows, std::string_view variable);

// The call rewritten to pass weights_only=`value` ("True" or "False"): the plain keyword where
// every env's loader knows it and every keyword the call passes; else the keywords some env's
// loader lacks (weights_only, mmap) move into a dict filtered by inspect.signature, so a torch
// without one is called without it. Checked against every env's facts. Exposed for tests.
std::string suggested_call(const CallSite& call, const std::vector<AuditEnv>& envs,
                           std::string_view value, std::string_view variable);

} // namespace loadmatrix
