#include "audit/audit_rules.h"

#include <algorithm>
#include <fmt/core.h>
#include <optional>

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
      {"LMA008", "unguarded-pickle-load",
       "torch.distributed.checkpoint unpickles the checkpoint's .metadata with plain "
       "pickle.load: no weights_only applies to it",
       "error"},
      {"LMA009", "loader-falls-back-to-full-unpickler",
       "torch.export.load unpickles the archive's state with the full unpickler, after any "
       "failure of a weights-only attempt (or, on older torches, at once)",
       "error"},
      {"LMA010", "helper-load-changed-between-releases",
       "the same call reaches the full unpickler through one release of a helper's package and "
       "the weights-only unpickler through another: upgrading the library changes what loads",
       "error"},
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

// A call's text and where its parts are, edited by offset: an edit moves the spans after it.
struct CallText {
  std::string code;
  CallSpans spans;

  // Replaces bytes [begin, end) with `text`; a keyword within them is dropped.
  void splice(size_t begin, size_t end, std::string_view text) {
    code.replace(begin, end - begin, text);
    // A part starting at `end` moves; one ending there (before an insertion) stays.
    auto move = [&](size_t& offset, bool is_end) {
      if (offset > end || (offset == end && !is_end)) {
        offset = offset - (end - begin) + text.size();
      }
    };
    auto move_span = [&](CodeSpan& span) {
      move(span.begin, false);
      move(span.end, true);
    };
    std::erase_if(spans.keywords, [&](const KeywordSpan& keyword) {
      return begin < end && keyword.span.begin >= begin && keyword.span.end <= end;
    });
    for (auto& keyword : spans.keywords) {
      move_span(keyword.span);
      move_span(keyword.value);
    }
    if (spans.callee) {
      move_span(*spans.callee);
    }
    if (spans.close_paren) {
      move(*spans.close_paren, false);
    }
    if (spans.trailing_comma && spans.trailing_comma->begin >= begin &&
        spans.trailing_comma->end <= end && begin < end) {
      spans.trailing_comma.reset();
    } else if (spans.trailing_comma) {
      move_span(*spans.trailing_comma);
    }
  }

  // Removes the keyword `name` with the comma before it (or, first, the comma after it) and the
  // spaces around that comma; false when the call does not pass it by name.
  bool remove_keyword(std::string_view name) {
    const KeywordSpan* keyword = spans.keyword(name);
    if (keyword == nullptr) {
      return false;
    }
    size_t begin = keyword->span.begin;
    size_t end = keyword->span.end;
    auto spaces_after = [&](size_t at) {
      while (at < code.size() && code[at] == ' ') {
        ++at;
      }
      return at;
    };
    auto spaces_before = [&](size_t at) {
      while (at > 0 && code[at - 1] == ' ') {
        --at;
      }
      return at;
    };
    end = spaces_after(end);
    if (size_t comma = spaces_before(begin); comma > 0 && code[comma - 1] == ',') {
      begin = spaces_before(comma - 1);
    } else if (end < code.size() && code[end] == ',') {
      end = spaces_after(end + 1);
    }
    splice(begin, end, "");
    return true;
  }
};

// The callee as the source spells it ("th.load"): its span, else the text before the first
// parenthesis (a call the parser gave no spans), else its canonical name.
std::string written_callee(const CallSite& call) {
  if (const auto& callee = call.spans.callee) {
    return call.code.substr(callee->begin, callee->end - callee->begin);
  }
  auto paren = call.code.find('(');
  return paren == std::string::npos ? call.callee : call.code.substr(0, paren);
}

// The call's text as it can be rewritten: one line, a trailing comma before ")" dropped; none
// when the call spans lines (a comment or a string literal across lines would not survive
// being joined) or its text was cut short.
std::optional<CallText> rewritable_code(const CallSite& call) {
  if (call.end_line > call.line || call.code.ends_with("...") || !call.code.ends_with(")") ||
      !call.spans.close_paren) {
    return std::nullopt;
  }
  CallText text{call.code, call.spans};
  if (const auto& comma = call.spans.trailing_comma) {
    text.splice(comma->begin, *text.spans.close_paren, "");
  }
  return text;
}

// `weights_only=` and a True, False or None literal, as `keyword` is written in `code`.
bool literal_weights_only(const std::string& code, const KeywordSpan& keyword) {
  std::string_view between(code.data() + keyword.span.begin + keyword.name.size(),
                           keyword.value.begin - keyword.span.begin - keyword.name.size());
  size_t equals = between.find_first_not_of(' ');
  std::string_view value(code.data() + keyword.value.begin,
                         keyword.value.end - keyword.value.begin);
  return equals != std::string_view::npos && between[equals] == '=' &&
         between.find_first_not_of(' ', equals + 1) == std::string_view::npos &&
         (value == "True" || value == "False" || value == "None");
}

// `call.code` with weights_only=`value`, or a generic form (no spans) when the text cannot be
// rewritten.
// The keyword of the call that sets the loader's weights_only: its own, or through a helper the
// helper's parameter that reaches it (Lightning's load_from_checkpoint(weights_only=...)).
std::string weights_only_keyword(const CallSite& call) {
  return call.chain.empty() || call.weights_only_keyword.empty() ? std::string("weights_only")
                                                                 : call.weights_only_keyword;
}

// `call.code` with weights_only=`value` (through a helper, its keyword), or a generic form (no
// spans) when the text cannot be rewritten.
CallText with_weights_only(const CallSite& call, std::string_view value) {
  std::string name = weights_only_keyword(call);
  CallText generic{fmt::format("{}(..., {}={})", written_callee(call), name, value), {}};
  auto text = rewritable_code(call);
  if (!text) {
    return generic;
  }
  std::string keyword = fmt::format("{}={}", name, value);
  size_t value_at = name.size() + 1;
  const KeywordSpan* written = text->spans.keyword(name);
  // Directly, the written form says whether the call passes it; through a helper, how the call
  // binds the helper's parameter (a literal weights_only of the loader may be the helper's).
  bool passes = call.chain.empty() ? call.weights_only != WrittenWeightsOnly::omitted &&
                                         call.weights_only != WrittenWeightsOnly::dynamic
                                   : call.weights_only_bound == "keyword";
  bool leaves_out = call.chain.empty() ? call.weights_only == WrittenWeightsOnly::omitted
                                       : call.weights_only_bound == "default";
  if (passes && written != nullptr && literal_weights_only(text->code, *written)) {
    size_t at = written->span.begin;
    auto index = written - text->spans.keywords.data();
    text->splice(at, written->value.end, keyword);
    text->spans.keywords.insert(
        text->spans.keywords.begin() + index,
        {name, {at, at + keyword.size()}, {at + value_at, at + keyword.size()}});
    return *text;
  }
  if (leaves_out) {
    size_t at = *text->spans.close_paren;
    std::string separator = text->code.ends_with("()") ? "" : ", ";
    text->splice(at, at, separator + keyword);
    at += separator.size();
    text->spans.keywords.push_back(
        {name, {at, at + keyword.size()}, {at + value_at, at + keyword.size()}});
    return *text;
  }
  return generic;
}

// Through a helper whose load no argument of this call reaches: where the helper decides, and
// what changes it.
std::string helper_decides(const CallSite& call, std::string_view value) {
  const ChainFrame& load = call.chain.back();
  return fmt::format(
      "no argument of this call reaches the load: {} calls {} with weights_only {} at {}. "
      "Change it there (`{}(..., weights_only={})`), or use a release of the helper that "
      "takes weights_only",
      call.via, call.callee,
      call.weights_only == WrittenWeightsOnly::omitted
          ? "left out"
          : written_weights_only_name(call.weights_only),
      load.label(), call.callee, value);
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

// The value `key` is written with in the call, or `otherwise`.
std::string keyword_value(const CallSite& call, std::string_view key,
                          const std::string& otherwise) {
  const KeywordSpan* keyword = call.spans.keyword(key);
  return keyword ? call.code.substr(keyword->value.begin, keyword->value.end - keyword->value.begin)
                 : otherwise;
}

} // namespace

std::string suggested_call(const CallSite& call, const std::vector<AuditEnv>& envs,
                           std::string_view value, std::string_view variable) {
  if (!call.chain.empty() && call.weights_only_keyword.empty()) {
    return helper_decides(call, value);
  }
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
    CallText text{call.code, call.spans};
    if (text.remove_keyword("pickle_module")) {
      without.code = std::move(text.code);
      without.spans = std::move(text.spans);
    } else {
      without.code.clear(); // passed by position: the generic form
      without.spans = {};
    }
    return fmt::format("leave pickle_module out (torch refuses weights_only={} with one): ",
                       value) +
           suggested_call(without, envs, value, variable);
  }
  std::string wanted = value == "True" ? "true" : "false";
  std::string left_out = written_weights_only_name(call.weights_only_left_out);
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
    } else if (!raises(env, call, variable, left_out, mmap)) {
      guard_weights_only = true;
    } else {
      guard_weights_only = true;
      guard_mmap = mmap;
    }
  }
  CallText rewritten = with_weights_only(call, value);
  std::string checked =
      fmt::format("checked against the measured loaders of {}", measured_env_names(envs));
  if (!guard_weights_only && !guard_mmap) {
    return fmt::format("`{}` ({})", rewritten.code, checked);
  }
  // inspect.signature of the loader itself: through a helper, what the loader at the end of
  // the chain knows decides, not the helper's own signature.
  std::string callee = call.chain.empty() ? written_callee(call) : call.callee;
  std::string keywords;
  std::string lacking;
  if (guard_weights_only) {
    rewritten.remove_keyword(weights_only_keyword(call));
    keywords += fmt::format("\"{}\": {}", weights_only_keyword(call), value);
  }
  if (guard_mmap) {
    keywords += fmt::format("{}\"mmap\": {}", keywords.empty() ? "" : ", ",
                            keyword_value(call, "mmap", "True"));
    rewritten.remove_keyword("mmap");
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
    if (raises(env, call, variable, drops_weights_only ? left_out : wanted, mmap && !drops_mmap)) {
      still_raising += fmt::format("{}{}", still_raising.empty() ? "" : ", ", env.name);
    }
  }
  if (!call.chain.empty() && !still_raising.empty() &&
      call.weights_only_left_out != WrittenWeightsOnly::omitted) {
    // Leaving the keyword out here still has the helper pass its own default on.
    return fmt::format(
        "no form of this call works on {}: {} passes weights_only to {} whatever this call "
        "leaves out (at {}), and that torch lacks it. Change it there: pass weights_only only "
        "where `inspect.signature({}).parameters` has it",
        still_raising, call.via, call.callee, call.chain.back().label(), call.callee);
  }
  if (!call.chain.empty() && weights_only_keyword(call) != "weights_only") {
    // The helper's keyword is not the loader's: no signature filter of the loader names it.
    return fmt::format("`{}` (it raises on {}, whose torch lacks weights_only: no one call works "
                       "on every env)",
                       with_weights_only(call, value).code, lacking);
  }
  const std::string& written = rewritten.code;
  std::string guarded =
      written.ends_with(")") && written.find("(...") == std::string::npos
          ? fmt::format("{}{}**load_kwargs)", written.substr(0, written.size() - 1),
                        written.ends_with("()") ? "" : ", ")
          : fmt::format("{}(..., **load_kwargs)", written_callee(call));
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

namespace {

// A load weights_only does not guard (call_effect.h, Unguarded): its own rule, and LMA004 where
// a torch lacks it; none of the weights_only rules applies.
std::vector<Finding> unguarded_findings(const CallSite& call, Unguarded kind,
                                        const std::vector<AuditEnv>& envs) {
  std::vector<Finding> findings;
  std::string full = envs_with(envs, CallOutcome::full);
  std::string where = full.empty() ? "" : " on " + full;
  if (kind == Unguarded::plain_pickle) {
    findings.push_back(
        {"LMA008",
         fmt::format("{} unpickles the checkpoint's .metadata with plain pickle.load{}: no "
                     "weights_only applies to it, so a crafted checkpoint directory runs code",
                     call.callee, where),
         "Load only checkpoint directories you wrote or trust. No argument makes .metadata "
         "weights-only: a storage_reader of your own (a FileSystemReader whose read_metadata "
         "unpickles with a restricted unpickler) is the one way to restrict it."});
  } else {
    findings.push_back(
        {"LMA009",
         fmt::format("torch.export.load runs the full unpickler on the archive's pickled "
                     "state{}: weights_only=False (torch 2.6; 2.14's pickled weights), or after "
                     "any failure of a weights_only=True attempt (2.14), which a crafted archive "
                     "can cause",
                     where),
         "Load only .pt2 archives you trust: no argument of torch.export.load makes it "
         "weights-only."});
  }
  std::string raised;
  for (const auto& env : envs) {
    if (env.effect.effective == CallOutcome::error) {
      raised += fmt::format("{}{} ({}): {}", raised.empty() ? "" : "; ", env.name, env.torch,
                            env.effect.reason);
    }
  }
  if (!raised.empty()) {
    findings.push_back({"LMA004", fmt::format("the call raises on {}", raised),
                        fmt::format("Call it only where torch has it (`hasattr` on its module), "
                                    "or require the torch that added {}.",
                                    call.callee)});
  }
  return findings;
}

std::vector<Finding> loader_findings(const CallSite& call, const std::vector<AuditEnv>& envs,
                                     std::string_view variable);

} // namespace

std::vector<Finding> audit_findings(const CallSite& call, const std::vector<AuditEnv>& envs,
                                    std::string_view variable) {
  Unguarded kind = unguarded_load(call.callee);
  std::vector<Finding> findings = kind != Unguarded::no ? unguarded_findings(call, kind, envs)
                                                        : loader_findings(call, envs, variable);
  if (!call.chain.empty()) {
    // Said at the user's call, about the load the helper does.
    for (auto& finding : findings) {
      finding.message = fmt::format("through {} (its load at {}): {}", call.via,
                                    call.chain.back().label(), finding.message);
    }
  }
  return findings;
}

std::optional<Finding> route_changed(const std::vector<RouteRow>& rows, std::string_view variable) {
  // The release a row goes through: its first hop into an installed distribution.
  auto release = [](const RouteRow& row) {
    for (const auto& hop : row.site->chain) {
      if (!hop.package.empty()) {
        return hop.package + " " + hop.package_version;
      }
    }
    return std::string();
  };
  // "lightning-2.5-torch-2.6 (lightning 2.5.6)": the row's envs of this outcome, each with it.
  auto named = [&](const RouteRow& row, CallOutcome outcome) {
    std::string out;
    for (const auto& env : row.envs) {
      if (env.effect.effective == outcome) {
        out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", env.name, release(row));
      }
    }
    return out;
  };
  // Only rows of different releases count: one release's two branches (a helper's
  // weights_only=True and False paths) are two rows of the same envs, not a change.
  bool changed = false;
  for (const auto& a : rows) {
    for (const auto& b : rows) {
      changed =
          changed || (any(a.envs, CallOutcome::full) && any(b.envs, CallOutcome::weights_only) &&
                      !release(a).empty() && !release(b).empty() && release(a) != release(b));
    }
  }
  if (!changed) {
    return std::nullopt;
  }
  std::string full;
  std::string restricted;
  std::string fixes;
  for (const auto& row : rows) {
    std::string f = named(row, CallOutcome::full);
    std::string r = named(row, CallOutcome::weights_only);
    full += (full.empty() || f.empty() ? "" : ", ") + f;
    restricted += (restricted.empty() || r.empty() ? "" : ", ") + r;
    std::string envs;
    for (const auto& env : row.envs) {
      envs += (envs.empty() ? "" : ", ") + env.name;
    }
    fixes += fmt::format("{}on {}: {}", fixes.empty() ? "" : "; ", envs,
                         suggested_call(*row.site, row.envs, "False", variable));
  }
  return Finding{
      "LMA010",
      fmt::format("{} loads differently with each env's installed release: the full unpickler on "
                  "{}, the weights-only unpickler on {}, where a checkpoint holding anything but "
                  "tensors and plain containers raises UnpicklingError",
                  rows.front().site->via, full, restricted),
      fmt::format("Say which unpickler you want where the helper lets you, for your own files: {}",
                  fixes)};
}

namespace {

std::vector<Finding> loader_findings(const CallSite& call, const std::vector<AuditEnv>& envs,
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
         fmt::format("retries after a weights-only attempt on the same input ({}line {}), with "
                     "the full unpickler on {}: a file the restricted unpickler refused, a "
                     "malicious one included, is then loaded with the unpickler that runs it",
                     call.fallback->path.empty() ? "" : call.fallback->path.string() + " ",
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

} // namespace

} // namespace loadmatrix
