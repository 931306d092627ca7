// EnvRun's scenarios: a user's own save/load code run in the env, and, when torch blocks it,
// the changes a user would make at its call site, each verified by running it again.
#include "run/cell_record.h"
#include "run/env_run.h"
#include "util/text.h"
#include "util/utf8.h"

#include <fmt/core.h>

namespace loadmatrix {

Json EnvRun::scenario_request(const CaseSpec& spec) const {
  auto script =
      session_.layout().inside(spec.root, std::filesystem::relative(spec.file, spec.root));
  return {{"op", "scenario"},
          {"script", protocol_path(script)},
          {"workdir", protocol_path(scratch_.inside)}};
}

void EnvRun::run_scenario(const CaseSpec& spec) {
  Record record = base_record(spec.name, env_.spec.name, LoaderMode::scenario);
  if (store_.has(record.key())) {
    return;
  }
  try {
    Json facts = session_.call(scenario_request(spec));
    apply_classification(record, classify(facts, nullptr));
    record.duration_ms = facts.value("duration_ms", 0LL);
    record.call_site = call_site_of(facts);
    if (record.outcome == Outcome::blocked) {
      prove_code_fixes(spec, record);
    }
  } catch (const std::exception& e) {
    record = internal_error_record(std::move(record), e);
  }
  commit(record);
}

// The user's line the worker found in the traceback, with its file as the host names it.
std::optional<CallSiteRef> EnvRun::call_site_of(const Json& facts) const {
  auto site = facts.find("call_site");
  if (site == facts.end() || !site->is_object()) {
    return std::nullopt;
  }
  // Foreign JSON: a field of another type (a null line from a frame Python could not place)
  // is left empty rather than thrown at.
  auto text = [&](const char* key) { return valid_utf8(optional_string(*site, key).value_or("")); };
  auto line = site->find("line");
  CallSiteRef ref{text("file"),
                  line != site->end() && line->is_number_integer() ? line->get<long long>() : 0,
                  text("function"),
                  text("code"),
                  printable_name(text("package")),
                  printable_name(text("package_version"))};
  ref.file = session_.layout().host_path(ref.file);
  return ref;
}

// A blocked scenario is run again with each change a user would make at its call site, and a
// change is verified only when the scenario then passes: (a) the blocked globals allowlisted
// (the same search as a checkpoint's), (b) the full unpickler, as an explicit
// weights_only=False there does, through TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD where this torch
// was measured to read it.
void EnvRun::prove_code_fixes(const CaseSpec& spec, Record& record) {
  if (env_.fingerprint().has_add_safe_globals) {
    auto run_allowing = [&](const std::vector<std::string>& allow) {
      Json request = scenario_request(spec);
      request["allow"] = allow;
      return session_.call(request);
    };
    AllowlistSearch found = search_allowlist(run_allowing);
    append_unique(record.blocked_globals, found.blocked);
    Classification last = classify(found.last_facts, nullptr);
    CodeFix fix{"allowlist", last.outcome == Outcome::pass, found.allowlist, ""};
    if (!fix.verified) {
      fix.detail = !found.stop.empty() ? "no safe allowlist: " + found.stop
                                       : fmt::format("{}: {} {}", outcome_id(last.outcome),
                                                     last.error_type, last.message);
    }
    record.code_fixes.push_back(std::move(fix));
  }
  // Only where this torch was measured to read the variable: a bare load weights-only
  // without it and the full unpickler with it.
  const auto& facts = env_.fingerprint().loader_calls;
  std::string forced = std::string(kForceNoWeightsOnly) + "=1";
  const MeasuredEffect* plain = facts ? facts->find("", "torch.load", "omitted") : nullptr;
  const MeasuredEffect* with = facts ? facts->find(forced, "torch.load", "omitted") : nullptr;
  bool reads_variable = plain && with && plain->effect == LoadEffect::weights_only &&
                        with->effect == LoadEffect::full;
  if (reads_variable && record.call_site &&
      record.call_site->code.find("weights_only") != std::string::npos) {
    // The variable changes only the default: a call that passes weights_only is not tried.
    record.code_fixes.push_back({"weights_only_false",
                                 false,
                                 {},
                                 "not tried: the call passes weights_only itself, which "
                                 "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD does not override"});
  } else if (reads_variable) {
    Json request = scenario_request(spec);
    request["force_no_weights_only"] = true;
    Classification full = classify(session_.call(request), nullptr);
    CodeFix fix{"weights_only_false", full.outcome == Outcome::pass, {}, ""};
    if (!fix.verified) {
      fix.detail =
          fmt::format("{}: {} {}", outcome_id(full.outcome), full.error_type, full.message);
    }
    record.code_fixes.push_back(std::move(fix));
  }
}

} // namespace loadmatrix
