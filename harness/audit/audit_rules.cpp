#include "audit/audit_rules.h"

#include <algorithm>
#include <fmt/core.h>
#include <regex>

namespace loadmatrix {

const std::vector<AuditRule>& audit_rules() {
  static const std::vector<AuditRule> rules = {
      {"LMA001", "weights-only-default-changes",
       "weights_only is left to a default that is the full unpickler on some envs of the matrix "
       "and the weights-only unpickler on others (torch 2.6 flipped it)",
       "error"},
      {"LMA002", "fallback-to-full-unpickler",
       "a load the weights-only unpickler refused is retried with the full unpickler, which "
       "runs whatever the refused file calls",
       "error"},
      {"LMA003", "pickle-module-disables-weights-only",
       "passing pickle_module keeps the full unpickler where weights-only is otherwise the "
       "default",
       "warning"},
      {"LMA004", "argument-unknown-to-some-torch",
       "the call raises on some env of the matrix: its torch does not know an argument", "error"},
      {"LMA005", "explicit-full-unpickler",
       "weights_only=False runs the full unpickler: right only for input you trust", "note"},
      {"LMA006", "dynamic-weights-only",
       "weights_only is not a literal: which unpickler runs depends on a value at run time",
       "warning"},
      {"LMA007", "full-unpickler-by-default",
       "weights_only is left to a default that is the full unpickler on every env of the "
       "matrix",
       "warning"},
  };
  return rules;
}

namespace {

// "trixie (2.6.0+debian), sid (2.14.1+debian)" for the envs whose effect is `outcome`.
std::string envs_with(const std::vector<AuditEnv>& envs, CallOutcome outcome) {
  std::string out;
  for (const auto& env : envs) {
    if (env.effect.effective == outcome) {
      out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", env.name, env.torch);
    }
  }
  return out;
}

bool any(const std::vector<AuditEnv>& envs, CallOutcome outcome) {
  return !envs_with(envs, outcome).empty();
}

// The envs whose loaders were measured: what a suggestion is checked against.
std::string measured_env_names(const std::vector<AuditEnv>& envs) {
  std::string out;
  for (const auto& env : envs) {
    if (env.facts != nullptr) {
      out += (out.empty() ? "" : ", ") + env.name;
    }
  }
  return out.empty() ? "no env (none has measured loaders)" : out;
}

// The callee as the source spells it ("th.load"), from the call's text.
std::string written_callee(const CallSite& call) {
  auto paren = call.code.find('(');
  return paren == std::string::npos ? call.callee : call.code.substr(0, paren);
}

// The call's text as it can be rewritten: one line, a trailing comma before ")" dropped; empty
// when the call spans lines (a comment or a string literal across lines would not survive
// being joined) or its text was cut short.
std::string rewritable_code(const CallSite& call) {
  if (call.end_line > call.line || call.code.ends_with("...") || !call.code.ends_with(")")) {
    return "";
  }
  static const std::regex trailing_comma(R"(,\s*\)$)");
  return std::regex_replace(call.code, trailing_comma, ")");
}

// `call.code` with weights_only=`value`, or a generic form when the text cannot be rewritten.
std::string with_weights_only(const CallSite& call, std::string_view value) {
  static const std::regex literal(R"(weights_only\s*=\s*(True|False|None))");
  std::string code = rewritable_code(call);
  if (code.empty()) {
    return fmt::format("{}(..., weights_only={})", written_callee(call), value);
  }
  if (call.weights_only != WrittenWeightsOnly::omitted &&
      call.weights_only != WrittenWeightsOnly::dynamic && std::regex_search(code, literal)) {
    return std::regex_replace(code, literal, fmt::format("weights_only={}", value),
                              std::regex_constants::format_first_only);
  }
  if (call.weights_only == WrittenWeightsOnly::omitted) {
    bool no_arguments = code.ends_with("()");
    return fmt::format("{}{}weights_only={})", code.substr(0, code.size() - 1),
                       no_arguments ? "" : ", ", value);
  }
  return fmt::format("{}(..., weights_only={})", written_callee(call), value);
}

bool raises(const AuditEnv& env, const CallSite& call, std::string_view variable,
            std::string_view weights_only, bool mmap) {
  const MeasuredEffect* measured =
      env.facts ? env.facts->find(
                      variable, call.callee,
                      loader_form(weights_only, call.pickle_module == ArgumentUse::passed, mmap))
                : nullptr;
  return measured != nullptr && measured->effect == LoadEffect::error;
}

// Where torch.serialization.add_safe_globals exists, and where it does not.
std::string unpickler_advice(const std::vector<AuditEnv>& envs) {
  std::string with;
  std::string without;
  for (const auto& env : envs) {
    std::string& list = env.has_add_safe_globals ? with : without;
    list += fmt::format("{}{} ({})", list.empty() ? "" : ", ", env.name, env.torch);
  }
  std::string allowlist =
      with.empty() ? "no env here has torch.serialization.add_safe_globals, so weights_only=True "
                     "loads only tensors and plain containers"
                   : fmt::format("allowlisting the classes it holds with "
                                 "torch.serialization.add_safe_globals([...]) on {}{}",
                                 with,
                                 without.empty() ? ""
                                                 : fmt::format(" (not on {}, where weights_only="
                                                               "True loads only tensors and plain "
                                                               "containers)",
                                                               without));
  return fmt::format("Trusted input only (your own files, like a buffer the library saved "
                     "itself): weights_only=False. Input from elsewhere: weights_only=True, {}.",
                     allowlist);
}

// `code` without `key=value` (a simple value: no comma or parenthesis in it).
std::string without_keyword(const std::string& code, const std::string& key) {
  std::regex after_comma("\\s*,\\s*" + key + R"(\s*=\s*[^,()]+)");
  std::string out =
      std::regex_replace(code, after_comma, "", std::regex_constants::format_first_only);
  if (out != code) {
    return out;
  }
  return std::regex_replace(code, std::regex(key + R"(\s*=\s*[^,()]+\s*,?\s*)"), "",
                            std::regex_constants::format_first_only);
}

// The value `key` is written with in `code`, or `otherwise`.
std::string keyword_value(const std::string& code, const std::string& key,
                          const std::string& otherwise) {
  std::smatch match;
  if (std::regex_search(code, match, std::regex(key + R"(\s*=\s*([^,()]+))"))) {
    std::string value = match[1].str();
    while (!value.empty() && value.back() == ' ') {
      value.pop_back();
    }
    return value;
  }
  return otherwise;
}

} // namespace

std::string suggested_call(const CallSite& call, const std::vector<AuditEnv>& envs,
                           std::string_view value, std::string_view variable) {
  // Where a torch refuses this weights_only together with the call's pickle_module (measured:
  // RuntimeError for weights_only=True on 1.13, 2.6 and 2.14), an error no signature check can
  // avoid, the form leaves pickle_module out.
  std::string form =
      loader_form(value == "True" ? "true" : "false", call.pickle_module == ArgumentUse::passed,
                  call.mmap == ArgumentUse::passed);
  bool refuses_pickle_module =
      call.pickle_module == ArgumentUse::passed &&
      std::any_of(envs.begin(), envs.end(), [&](const AuditEnv& env) {
        const MeasuredEffect* measured =
            env.facts ? env.facts->find(variable, call.callee, form) : nullptr;
        return measured != nullptr && measured->effect == LoadEffect::error &&
               !measured->error.starts_with("TypeError");
      });
  if (refuses_pickle_module) {
    CallSite without = call;
    without.pickle_module = ArgumentUse::omitted;
    without.code = without_keyword(call.code, "pickle_module");
    if (without.code.find("pickle_module") != std::string::npos || without.code == call.code) {
      without.code.clear(); // passed by position: the generic form
    }
    return fmt::format("leave pickle_module out (torch refuses weights_only={} with one): ",
                       value) +
           suggested_call(without, envs, value, variable);
  }
  std::string wanted = value == "True" ? "true" : "false";
  bool mmap = call.mmap == ArgumentUse::passed;
  // Which keywords some env's loader does not know: the call raises with it and not without.
  bool guard_weights_only = false;
  bool guard_mmap = false;
  for (const auto& env : envs) {
    if (!raises(env, call, variable, wanted, mmap)) {
      continue;
    }
    if (mmap && !raises(env, call, variable, wanted, false)) {
      guard_mmap = true;
    } else if (!raises(env, call, variable, "omitted", mmap)) {
      guard_weights_only = true;
    } else {
      guard_weights_only = true;
      guard_mmap = mmap;
    }
  }
  std::string rewritten = with_weights_only(call, value);
  std::string checked =
      fmt::format("checked against the measured loaders of {}", measured_env_names(envs));
  if (!guard_weights_only && !guard_mmap) {
    return fmt::format("`{}` ({})", rewritten, checked);
  }
  std::string callee = written_callee(call);
  std::string keywords;
  std::string lacking;
  if (guard_weights_only) {
    rewritten = without_keyword(rewritten, "weights_only");
    keywords += fmt::format("\"weights_only\": {}", value);
  }
  if (guard_mmap) {
    keywords += fmt::format("{}\"mmap\": {}", keywords.empty() ? "" : ", ",
                            keyword_value(call.code, "mmap", "True"));
    rewritten = without_keyword(rewritten, "mmap");
  }
  // What inspect.signature keeps on each env, and that the call then loads there.
  std::string still_raising;
  for (const auto& env : envs) {
    bool knows_weights_only = !raises(env, call, variable, wanted, false);
    bool knows_mmap = !raises(env, call, variable, "omitted", true);
    bool drops_weights_only = guard_weights_only && !knows_weights_only;
    bool drops_mmap = guard_mmap && !knows_mmap;
    if (drops_weights_only || drops_mmap) {
      lacking += fmt::format("{}{} ({})", lacking.empty() ? "" : ", ", env.name, env.torch);
    }
    if (raises(env, call, variable, drops_weights_only ? "omitted" : wanted, mmap && !drops_mmap)) {
      still_raising += fmt::format("{}{}", still_raising.empty() ? "" : ", ", env.name);
    }
  }
  std::string guarded =
      rewritten.ends_with(")") && rewritten.find("(...") == std::string::npos
          ? fmt::format("{}{}**load_kwargs)", rewritten.substr(0, rewritten.size() - 1),
                        rewritten.ends_with("()") ? "" : ", ")
          : fmt::format("{}(..., **load_kwargs)", callee);
  std::string code =
      fmt::format("`load_kwargs = {{key: value for key, value in {{{}}}.items() if key in "
                  "inspect.signature({}).parameters}}` then `{}`",
                  keywords, callee, guarded);
  if (!still_raising.empty()) {
    return fmt::format("{} ({} lacks what it drops; it still raises on {}: no one call works on "
                       "every env)",
                       code, lacking, still_raising);
  }
  return fmt::format("{} ({} lacks what it drops; {})", code, lacking, checked);
}

std::vector<Finding> audit_findings(const CallSite& call, const std::vector<AuditEnv>& envs,
                                    std::string_view variable) {
  std::vector<Finding> findings;
  bool left_default = call.weights_only == WrittenWeightsOnly::omitted ||
                      call.weights_only == WrittenWeightsOnly::none;
  std::string full = envs_with(envs, CallOutcome::full);
  std::string restricted = envs_with(envs, CallOutcome::weights_only);
  if (left_default && !full.empty() && !restricted.empty()) {
    findings.push_back(
        {"LMA001",
         fmt::format("weights_only is left to the default: the full unpickler on {}, the "
                     "weights-only unpickler on {}, where a checkpoint holding anything but "
                     "tensors and plain containers raises UnpicklingError",
                     full, restricted),
         fmt::format(
             "{} {}: {}", unpickler_advice(envs),
             call.in_safe_globals ? "Weights-only, as the safe_globals block intends"
                                  : "For your own files",
             suggested_call(call, envs, call.in_safe_globals ? "True" : "False", variable))});
  }
  if (call.fallback && (!full.empty() || any(envs, CallOutcome::unknown))) {
    findings.push_back(
        {"LMA002",
         fmt::format("retries after a weights-only attempt on the same input (line {}), with the "
                     "full unpickler on {}: a file the restricted unpickler refused, a malicious "
                     "one included, is then loaded with the unpickler that runs it",
                     call.fallback->attempt_line,
                     full.empty() ? "the envs where its weights_only is False" : full),
         "Remove the retry. Allowlist what your own checkpoints hold with "
         "torch.serialization.add_safe_globals([...]) (the refusal names each global), or load "
         "only files you trust with weights_only=False, without a weights-only attempt first."});
  }
  if (call.pickle_module == ArgumentUse::passed && call.weights_only != WrittenWeightsOnly::true_) {
    std::string kept;
    for (const auto& env : envs) {
      const MeasuredEffect* without =
          env.facts ? env.facts->find(variable, call.callee,
                                      loader_form(written_weights_only_name(call.weights_only),
                                                  false, call.mmap == ArgumentUse::passed))
                    : nullptr;
      if (env.effect.effective == CallOutcome::full && without != nullptr &&
          without->effect == LoadEffect::weights_only) {
        kept += fmt::format("{}{} ({})", kept.empty() ? "" : ", ", env.name, env.torch);
      }
    }
    if (!kept.empty()) {
      findings.push_back(
          {"LMA003",
           fmt::format("pickle_module is passed, which keeps the full unpickler on {}, where "
                       "leaving it out gives the weights-only unpickler",
                       kept),
           "Leave pickle_module out unless this input needs a custom unpickler (which is the full "
           "unpickler); if it does and the input is trusted, say so with weights_only=False."});
    }
  }
  if (any(envs, CallOutcome::error)) {
    std::string raised;
    for (const auto& env : envs) {
      if (env.effect.effective == CallOutcome::error) {
        raised += fmt::format("{}{} ({}): {}", raised.empty() ? "" : "; ", env.name, env.torch,
                              env.effect.reason);
      }
    }
    // Keep what the call does where it works: weights_only as written, else True wherever
    // some env already runs it weights-only (never a suggestion that loosens it there).
    std::string value =
        call.weights_only == WrittenWeightsOnly::false_ ? "False"
        : call.weights_only == WrittenWeightsOnly::true_ || any(envs, CallOutcome::weights_only)
            ? "True"
            : "False";
    std::string lacking_safe_globals;
    for (const auto& env : envs) {
      if (call.in_safe_globals && !env.has_safe_globals) {
        lacking_safe_globals +=
            fmt::format("{}{} ({})", lacking_safe_globals.empty() ? "" : ", ", env.name, env.torch);
      }
    }
    std::string fix =
        lacking_safe_globals.empty()
            ? suggested_call(call, envs, value, variable)
            : fmt::format(
                  "Enter the block only where the context manager exists: `import contextlib`, "
                  "`with (torch.serialization.safe_globals([...]) if hasattr(torch.serialization, "
                  "\"safe_globals\") else contextlib.nullcontext()):` (the same list as now). "
                  "{} then has no way to allowlist those classes: weights-only it loads only "
                  "tensors and plain containers, so the checkpoints that need the block load "
                  "there only with weights_only=False, for trusted files. Where the block runs: {}",
                  lacking_safe_globals, suggested_call(call, envs, "True", variable));
    findings.push_back({"LMA004", fmt::format("the call raises on {}", raised), fix});
  }
  if (call.weights_only == WrittenWeightsOnly::false_) {
    findings.push_back(
        {"LMA005",
         full.empty()
             ? std::string("weights_only=False asks for the full unpickler (right for your own "
                           "files, dangerous for any other), though no env here runs it now")
             : fmt::format("weights_only=False runs the full unpickler on {}: right for your own "
                           "files, dangerous for any other",
                           full),
         fmt::format("If this input can come from elsewhere: {}",
                     suggested_call(call, envs, "True", variable))});
  }
  if (call.weights_only == WrittenWeightsOnly::dynamic) {
    findings.push_back(
        {"LMA006",
         "weights_only is not a literal (an expression or **kwargs): which unpickler runs is "
         "decided at run time, per env: " +
             [&] {
               std::string out;
               for (const auto& env : envs) {
                 out +=
                     fmt::format("{}{}: {}", out.empty() ? "" : "; ", env.name, env.effect.reason);
               }
               return out;
             }(),
         "Write weights_only=True or weights_only=False at the call, so a reader and this audit "
         "see which unpickler runs."});
  }
  if (left_default && !full.empty() && restricted.empty() && !any(envs, CallOutcome::error)) {
    findings.push_back(
        {"LMA007",
         fmt::format("weights_only is left to the default, which is the full unpickler on "
                     "every env here: {}",
                     full),
         fmt::format("{} Weights-only: {}", unpickler_advice(envs),
                     suggested_call(call, envs, "True", variable))});
  }
  return findings;
}

} // namespace loadmatrix
