#include "audit/audit_rules.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

// bookworm-like (1.13: full by default, no mmap, no add_safe_globals) and trixie-like (2.6).
// A "bullseye"-like torch (1.7: no weights_only at all) is made by `no_weights_only`.
LoaderFacts facts(bool weights_only_default, bool knows_mmap, bool knows_weights_only = true) {
  LoaderFacts out;
  for (std::string written : {"omitted", "true", "false", "none"}) {
    for (bool pickle_module : {false, true}) {
      for (bool mmap : {false, true}) {
        MeasuredEffect effect;
        if ((mmap && !knows_mmap) || (written != "omitted" && !knows_weights_only)) {
          effect = {LoadEffect::error, "TypeError: load() got an unexpected keyword argument"};
        } else if (written == "true" && pickle_module) {
          effect = {LoadEffect::error, "RuntimeError: Can not safely load weights when explicit "
                                       "pickle_module is specified"};
        } else if (written == "true") {
          effect = {LoadEffect::weights_only, ""};
        } else if (written == "false" || pickle_module) {
          effect = {LoadEffect::full, ""};
        } else {
          effect = {weights_only_default ? LoadEffect::weights_only : LoadEffect::full, ""};
        }
        out.by_variable[""]["torch.load"][loader_form(written, pickle_module, mmap)] = effect;
      }
    }
  }
  return out;
}

struct Matrix {
  LoaderFacts bullseye = facts(false, false, false);
  LoaderFacts bookworm = facts(false, false);
  LoaderFacts trixie = facts(true, true);

  std::vector<AuditEnv> envs(const CallSite& site, bool with_bullseye = false) const {
    std::vector<AuditEnv> out;
    if (with_bullseye) {
      out.push_back(
          {"bullseye", "1.7.1", &bullseye, false, false, call_effect(site, &bullseye, "")});
    }
    out.push_back(
        {"bookworm", "1.13.1", &bookworm, false, false, call_effect(site, &bookworm, "")});
    out.push_back({"trixie", "2.6.0", &trixie, true, true, call_effect(site, &trixie, "")});
    return out;
  }
};

// The spans audit_calls.py gives a one-line call whose arguments hold no string with a bracket
// or comma in it: the callee before "(", each `name=value` between top-level commas.
CallSpans spans_of(const std::string& code) {
  CallSpans spans;
  size_t open = code.find('(');
  spans.callee = CodeSpan{0, open};
  spans.close_paren = code.size() - 1;
  size_t depth = 0;
  size_t start = open + 1;
  for (size_t at = open + 1; at < code.size(); ++at) {
    char c = code[at];
    depth += c == '(' || c == '[' || c == '{';
    depth -= c == ')' || c == ']' || c == '}';
    bool last = at + 1 == code.size();
    if ((c != ',' || depth != 0) && !last) {
      continue;
    }
    size_t begin = code.find_first_not_of(' ', start);
    size_t end = code.find_last_not_of(' ', at - 1) + 1;
    if (begin >= end) {
      if (start > open + 1) {
        spans.trailing_comma = CodeSpan{start - 1, start}; // "f, )": nothing after the comma
      }
    } else if (size_t equals = code.find('=', begin);
               equals < end && code.substr(begin, 2) != "**" &&
               code.find_first_of("([{\"'", begin) > equals) {
      std::string name = code.substr(begin, code.find_first_of(" =", begin) - begin);
      size_t value = code.find_first_not_of(' ', equals + 1);
      spans.keywords.push_back({name, {begin, end}, {value, end}});
    }
    start = at + 1;
  }
  return spans;
}

CallSite call(const std::string& code, WrittenWeightsOnly weights_only) {
  CallSite site;
  site.callee = "torch.load";
  site.code = code;
  site.spans = spans_of(code);
  site.weights_only = weights_only;
  return site;
}

std::vector<std::string> rules(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& finding : findings) {
    out.push_back(finding.rule);
  }
  return out;
}

} // namespace

TEST(AuditRulesTest, TheModuleUtilsLineIsTheDefaultFlipWithAFixForEveryEnv) {
  Matrix matrix;
  CallSite site = call("torch.load(buffer)", WrittenWeightsOnly::omitted);
  auto findings = audit_findings(site, matrix.envs(site), "");
  ASSERT_EQ(rules(findings), std::vector<std::string>{"LMA001"});
  EXPECT_NE(findings[0].message.find("full unpickler on bookworm (1.13.1)"), std::string::npos);
  EXPECT_NE(findings[0].message.find("weights-only unpickler on trixie (2.6.0)"),
            std::string::npos);
  EXPECT_NE(findings[0].suggestion.find("`torch.load(buffer, weights_only=False)`"),
            std::string::npos);
  // add_safe_globals is offered only where it exists.
  EXPECT_NE(findings[0].suggestion.find("not on bookworm (1.13.1)"), std::string::npos);
}

TEST(AuditRulesTest, ATorchWithoutWeightsOnlyGetsTheSignatureGuardedFormNotATypeError) {
  Matrix matrix;
  CallSite site = call("torch.load(buffer)", WrittenWeightsOnly::omitted);
  std::string suggestion = suggested_call(site, matrix.envs(site, true), "False", "");
  EXPECT_EQ(suggestion,
            "`load_kwargs = {key: value for key, value in {\"weights_only\": False}.items() if key "
            "in inspect.signature(torch.load).parameters}` then `torch.load(buffer, "
            "**load_kwargs)` (bullseye (1.7.1) lacks what it drops; checked against the measured "
            "loaders of bullseye, bookworm, trixie)");
  // The plain keyword where every env knows it.
  EXPECT_EQ(suggested_call(site, matrix.envs(site), "False", ""),
            "`torch.load(buffer, weights_only=False)` (checked against the measured loaders of "
            "bookworm, trixie)");
}

TEST(AuditRulesTest, AnExplicitArgumentSomeTorchLacksIsFoundAndGuarded) {
  Matrix matrix;
  CallSite site = call("torch.load(f, mmap=True, weights_only=True)", WrittenWeightsOnly::true_);
  site.mmap = ArgumentUse::passed;
  auto findings = audit_findings(site, matrix.envs(site), "");
  ASSERT_EQ(rules(findings), std::vector<std::string>{"LMA004"});
  EXPECT_NE(findings[0].message.find("raises on bookworm (1.13.1)"), std::string::npos);
  EXPECT_NE(findings[0].suggestion.find("{\"mmap\": True}"), std::string::npos);
  EXPECT_NE(findings[0].suggestion.find("`torch.load(f, weights_only=True, **load_kwargs)`"),
            std::string::npos);
}

TEST(AuditRulesTest, AnUnknownArgumentsFixNeverLoosensAnEnvThatWasWeightsOnly) {
  Matrix matrix;
  CallSite site = call("torch.load(path, mmap=True)", WrittenWeightsOnly::omitted);
  site.mmap = ArgumentUse::passed;
  auto findings = audit_findings(site, matrix.envs(site), "");
  ASSERT_EQ(rules(findings), (std::vector<std::string>{"LMA004"}));
  EXPECT_NE(findings[0].suggestion.find("`torch.load(path, weights_only=True, **load_kwargs)`"),
            std::string::npos)
      << findings[0].suggestion;
  // A trailing comma is dropped before weights_only is added; several lines are not rewritten.
  CallSite trailing = call("torch.load(buffer, )", WrittenWeightsOnly::omitted);
  EXPECT_EQ(suggested_call(trailing, matrix.envs(trailing), "False", ""),
            "`torch.load(buffer, weights_only=False)` (checked against the measured loaders of "
            "bookworm, trixie)");
  trailing.end_line = trailing.line + 2;
  EXPECT_NE(suggested_call(trailing, matrix.envs(trailing), "False", "")
                .find("`torch.load(..., weights_only=False)`"),
            std::string::npos);
}

TEST(AuditRulesTest, AWeightsOnlySuggestionLeavesPickleModuleOut) {
  Matrix matrix;
  CallSite custom = call("torch.load(f, pickle_module=dill)", WrittenWeightsOnly::omitted);
  custom.pickle_module = ArgumentUse::passed;
  EXPECT_EQ(suggested_call(custom, matrix.envs(custom), "True", ""),
            "leave pickle_module out (torch refuses weights_only=True with one): `torch.load(f, "
            "weights_only=True)` (checked against the measured loaders of bookworm, trixie)");
}

TEST(AuditRulesTest, FallbackPickleModuleExplicitFalseAndDynamicEachHaveTheirRule) {
  Matrix matrix;
  CallSite retry = call("torch.load(path, weights_only=False)", WrittenWeightsOnly::false_);
  retry.fallback = Fallback{"except", 10, {}};
  EXPECT_EQ(rules(audit_findings(retry, matrix.envs(retry), "")),
            (std::vector<std::string>{"LMA002", "LMA005"}));

  CallSite custom = call("torch.load(f, pickle_module=pickle)", WrittenWeightsOnly::omitted);
  custom.pickle_module = ArgumentUse::passed;
  auto findings = audit_findings(custom, matrix.envs(custom), "");
  EXPECT_EQ(rules(findings), (std::vector<std::string>{"LMA003", "LMA007"}));
  EXPECT_NE(findings[0].message.find("trixie (2.6.0)"), std::string::npos);
  EXPECT_EQ(findings[0].message.find("bookworm"), std::string::npos);

  CallSite dynamic = call("torch.load(f, weights_only=flag)", WrittenWeightsOnly::dynamic);
  EXPECT_EQ(rules(audit_findings(dynamic, matrix.envs(dynamic), "")),
            std::vector<std::string>{"LMA006"});

  CallSite safe = call("torch.load(f, weights_only=True)", WrittenWeightsOnly::true_);
  EXPECT_TRUE(audit_findings(safe, matrix.envs(safe), "").empty());
}

TEST(AuditRulesTest, EveryRuleHasAStableIdNameAndLevel) {
  const auto& all = audit_rules();
  ASSERT_EQ(all.size(), 10u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(std::string(all[i].id), fmt::format("LMA{:03}", i + 1));
    std::string level = all[i].level;
    EXPECT_TRUE(level == "error" || level == "warning" || level == "note") << level;
  }
}

TEST(AuditRulesTest, TheCallIsRewrittenByOffsetKeepingWhatItDoesNotChange) {
  Matrix matrix;
  auto suggest = [&](const CallSite& site, const char* value) {
    std::string out = suggested_call(site, matrix.envs(site), value, "");
    return out.substr(0, out.find(" (checked"));
  };
  // A literal written with spaces is replaced whole; None too, and the trailing comma goes.
  EXPECT_EQ(suggest(call("torch.load(f, weights_only = True, map_location=\"cpu\")",
                         WrittenWeightsOnly::true_),
                    "False"),
            "`torch.load(f, weights_only=False, map_location=\"cpu\")`");
  EXPECT_EQ(suggest(call("torch.load(f, weights_only=None, )", WrittenWeightsOnly::none), "True"),
            "`torch.load(f, weights_only=True)`");
  // Offsets are bytes: text before the call's arguments may be any UTF-8.
  EXPECT_EQ(suggest(call("th.load(\"\u00e9t\u00e9\u20ac\", map_location=\"cpu\", **kw)",
                         WrittenWeightsOnly::dynamic),
                    "True"),
            "`th.load(..., weights_only=True)`");
  EXPECT_EQ(suggest(call("th.load(\"\u00e9t\u00e9\u20ac\", map_location=\"cpu\")",
                         WrittenWeightsOnly::omitted),
                    "True"),
            "`th.load(\"\u00e9t\u00e9\u20ac\", map_location=\"cpu\", weights_only=True)`");
  // A parenthesised literal is not rewritten (the form is generic), as before.
  EXPECT_EQ(suggest(call("torch.load(f, weights_only=(True))", WrittenWeightsOnly::true_), "False"),
            "`torch.load(..., weights_only=False)`");
  // Without spans (a finder that gave none) nothing is rewritten; the callee is the text before
  // the parenthesis, as the user wrote it.
  CallSite bare = call("th.load(f)", WrittenWeightsOnly::omitted);
  bare.spans = {};
  EXPECT_EQ(suggest(bare, "False"), "`th.load(..., weights_only=False)`");
}

TEST(AuditRulesTest, PickleModuleIsLeftOutWhereverItIsWrittenByName) {
  Matrix matrix;
  auto suggest = [&](const std::string& code) {
    CallSite site = call(code, WrittenWeightsOnly::omitted);
    site.pickle_module = ArgumentUse::passed;
    std::string out = suggested_call(site, matrix.envs(site), "True", "");
    return out.substr(0, out.find(" (checked"));
  };
  const std::string prefix = "leave pickle_module out (torch refuses weights_only=True with one): ";
  EXPECT_EQ(suggest("torch.load(pickle_module=pickle, f=f)"),
            prefix + "`torch.load(f=f, weights_only=True)`");
  EXPECT_EQ(suggest("torch.load(f, pickle_module = pickle , map_location=\"cpu\")"),
            prefix + "`torch.load(f, map_location=\"cpu\", weights_only=True)`");
  EXPECT_EQ(suggest("torch.load(f, map_location=\"cpu\", pickle_module=pickle,)"),
            prefix + "`torch.load(f, map_location=\"cpu\", weights_only=True)`");
  // Passed by position: nothing to remove by name, so the generic form.
  EXPECT_EQ(suggest("th.load(f, \"cpu\", pickle)"),
            prefix + "`torch.load(..., weights_only=True)`");
}

TEST(AuditRulesTest, AGuardedMmapKeepsItsWrittenValueAndLeavesTheCall) {
  Matrix matrix;
  CallSite site =
      call("torch.load(f, use_mmap=a, mmap=flag , map_location=m)", WrittenWeightsOnly::omitted);
  site.mmap = ArgumentUse::passed;
  std::string out = suggested_call(site, matrix.envs(site), "True", "");
  // The value of `mmap=`, not of `use_mmap=` (the regex this replaced read the first).
  EXPECT_NE(out.find("{\"mmap\": flag}"), std::string::npos) << out;
  EXPECT_NE(
      out.find("`torch.load(f, use_mmap=a, map_location=m, weights_only=True, **load_kwargs)`"),
      std::string::npos)
      << out;
}

namespace {

// Lightning 2.6's `Model.load_from_checkpoint(path)`: the helper's weights_only=None reaches
// torch.load through three hops, and the call's own `weights_only=` keyword sets it.
CallSite through_helper(const std::string& code, WrittenWeightsOnly received,
                        const std::string& keyword, const std::string& bound) {
  CallSite site = call(code, received);
  site.via = "lightning.pytorch.core.module.LightningModule.load_from_checkpoint";
  site.weights_only_keyword = keyword;
  site.weights_only_bound = bound;
  site.chain = {{"/venv/lightning/pytorch/core/module.py", 1781, 19, "load_from_checkpoint",
                 "_load_from_checkpoint(cls, ...)", "lightning", "2.6.0", ""},
                {"/venv/lightning/fabric/utilities/cloud_io.py", 73, 16, "_load",
                 "torch.load(f, weights_only=weights_only)", "lightning", "2.6.0", ""}};
  return site;
}

} // namespace

TEST(AuditRulesTest, ThroughAHelperTheFindingIsAtTheUsersCallWithTheHelpersKeyword) {
  Matrix matrix;
  CallSite site = through_helper("Model.load_from_checkpoint(path)", WrittenWeightsOnly::none,
                                 "weights_only", "default");
  auto findings = audit_findings(site, matrix.envs(site), "");
  ASSERT_EQ(rules(findings), std::vector<std::string>{"LMA001"});
  EXPECT_TRUE(findings[0].message.starts_with(
      "through lightning.pytorch.core.module.LightningModule.load_from_checkpoint (its load at "
      "lightning 2.6.0: /venv/lightning/fabric/utilities/cloud_io.py:73): weights_only is left "
      "to the default"))
      << findings[0].message;
  EXPECT_NE(findings[0].suggestion.find("`Model.load_from_checkpoint(path, weights_only=False)`"),
            std::string::npos)
      << findings[0].suggestion;

  // Passed by keyword already: its value is replaced, not added again.
  CallSite passed = through_helper("Model.load_from_checkpoint(path, weights_only=None)",
                                   WrittenWeightsOnly::none, "weights_only", "keyword");
  EXPECT_NE(suggested_call(passed, matrix.envs(passed), "True", "")
                .find("`Model.load_from_checkpoint(path, weights_only=True)`"),
            std::string::npos);
  // By position: no keyword is added beside it (a TypeError); the generic form says which.
  CallSite positional = through_helper("load(path, 'cpu', None)", WrittenWeightsOnly::none,
                                       "weights_only", "position");
  EXPECT_EQ(suggested_call(positional, matrix.envs(positional), "True", "").substr(0, 28),
            "`load(..., weights_only=True");
}

TEST(AuditRulesTest, AHelperThatDecidesIsNamedWhereItDecides) {
  Matrix matrix;
  // Lightning 2.5's load_from_checkpoint: _load's weights_only=False, no argument reaches it.
  CallSite site =
      through_helper("Model.load_from_checkpoint(path)", WrittenWeightsOnly::false_, "", "");
  auto findings = audit_findings(site, matrix.envs(site), "");
  ASSERT_EQ(rules(findings), std::vector<std::string>{"LMA005"});
  EXPECT_NE(findings[0].suggestion.find(
                "no argument of this call reaches the load: "
                "lightning.pytorch.core.module.LightningModule.load_from_checkpoint calls "
                "torch.load with weights_only false at lightning 2.6.0: "
                "/venv/lightning/fabric/utilities/cloud_io.py:73"),
            std::string::npos)
      << findings[0].suggestion;
}

TEST(AuditRulesTest, UnguardedLoadsHaveTheirOwnRulesAndNoWeightsOnlyOnes) {
  Matrix matrix;
  CallSite dcp = call("dcp.load(state, checkpoint_id=path)", WrittenWeightsOnly::omitted);
  dcp.callee = "torch.distributed.checkpoint.load";
  auto findings = audit_findings(dcp, matrix.envs(dcp), "");
  EXPECT_EQ(rules(findings), std::vector<std::string>{"LMA008"});
  EXPECT_NE(findings[0].message.find(".metadata with plain pickle.load on bookworm"),
            std::string::npos)
      << findings[0].message;

  CallSite program = call("torch.export.load(path)", WrittenWeightsOnly::omitted);
  program.callee = "torch.export.load";
  auto envs = matrix.envs(program);
  // What run_audit gives a torch older than torch.export (2.1).
  envs[0].effect = call_effect(program, envs[0].facts, "", false, "1.13.1");
  EXPECT_EQ(envs[0].effect.effective, CallOutcome::error);
  EXPECT_EQ(rules(audit_findings(program, envs, "")),
            (std::vector<std::string>{"LMA009", "LMA004"}));
}

TEST(AuditRulesTest, TwoReleasesOfAHelperThatLoadDifferentlyAreOneFindingOnEachRow) {
  Matrix matrix;
  // Lightning 2.5.6 forces weights_only=False; 2.6.0 passes its None on to torch's default.
  CallSite old_release =
      through_helper("Model.load_from_checkpoint(path)", WrittenWeightsOnly::false_, "", "");
  for (auto& hop : old_release.chain) {
    hop.package_version = "2.5.6";
  }
  CallSite new_release = through_helper("Model.load_from_checkpoint(path)",
                                        WrittenWeightsOnly::none, "weights_only", "default");
  std::vector<AuditEnv> old_envs = {matrix.envs(old_release)[1]};
  old_envs[0].name = "lightning-2.5";
  std::vector<AuditEnv> new_envs = {matrix.envs(new_release)[1]};
  new_envs[0].name = "lightning-2.6";
  auto finding = route_changed({{&old_release, old_envs}, {&new_release, new_envs}}, "");
  ASSERT_TRUE(finding);
  EXPECT_EQ(finding->rule, "LMA010");
  EXPECT_NE(finding->message.find("the full unpickler on lightning-2.5 (lightning 2.5.6), the "
                                  "weights-only unpickler on lightning-2.6 (lightning 2.6.0)"),
            std::string::npos)
      << finding->message;
  EXPECT_NE(finding->suggestion.find(
                "on lightning-2.6: `Model.load_from_checkpoint(path, weights_only=False)`"),
            std::string::npos)
      << finding->suggestion;
  EXPECT_NE(finding->suggestion.find("on lightning-2.5: no argument of this call reaches the load"),
            std::string::npos);
  // Two releases that agree: no finding.
  EXPECT_FALSE(route_changed({{&old_release, old_envs}, {&old_release, old_envs}}, ""));
}

TEST(AuditRulesTest, OneReleasesTwoBranchesAreNotAChangeBetweenReleases) {
  Matrix matrix;
  CallSite trusted = through_helper("fetch(path)", WrittenWeightsOnly::false_, "", "");
  CallSite checked = through_helper("fetch(path)", WrittenWeightsOnly::true_, "", "");
  auto envs = [&](const CallSite& site) { return std::vector<AuditEnv>{matrix.envs(site)[1]}; };
  EXPECT_FALSE(route_changed({{&trusted, envs(trusted)}, {&checked, envs(checked)}}, ""));
}

TEST(AuditRulesTest, AHelperThatAlwaysPassesWeightsOnlyIsToBeChangedWhereItPassesIt) {
  Matrix matrix;
  // `def fetch(url, weights_only=None): ... torch.load(url, weights_only=weights_only)`:
  // leaving the keyword out of `fetch(url)` still passes None, which 1.7 refuses.
  CallSite site = through_helper("fetch(url)", WrittenWeightsOnly::none, "weights_only", "default");
  site.weights_only_left_out = WrittenWeightsOnly::none;
  std::string fix = suggested_call(site, matrix.envs(site, true), "False", "");
  EXPECT_TRUE(fix.starts_with("no form of this call works on bullseye: "
                              "lightning.pytorch.core.module.LightningModule.load_from_checkpoint "
                              "passes weights_only to torch.load whatever this call leaves out"))
      << fix;
  // A helper handing **kwargs on leaves it out at the loader too: the guarded form works.
  site.weights_only_left_out = WrittenWeightsOnly::omitted;
  EXPECT_NE(suggested_call(site, matrix.envs(site, true), "False", "")
                .find("inspect.signature(torch.load).parameters}` then `fetch(url, "
                      "**load_kwargs)`"),
            std::string::npos);
}
