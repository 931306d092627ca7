// `loadmatrix audit` through the real CLI, parsing in the real newest env and judging each call
// against every env's measured loaders.
#include "testing/cli_runs.h"
#include "testing/test_envs.h"
#include "util/json_file.h"

#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <sys/stat.h>

using namespace loadmatrix;
using test_support::run_loadmatrix;

namespace {

// Sources the sandbox user can read, as a maintainer's checkout is.
class Sources {
public:
  Sources() { ::chmod(dir_.path().c_str(), 0755); }
  std::filesystem::path add(const std::string& name, const std::string& text) {
    std::filesystem::path file = dir_.path() / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    for (auto at = file.parent_path(); at != dir_.path(); at = at.parent_path()) {
      ::chmod(at.c_str(), 0755);
    }
    ::chmod(file.c_str(), 0644);
    return file;
  }
  const std::filesystem::path& path() const { return dir_.path(); }

private:
  test_support::TempDir dir_;
};

const char* kImports = R"py(import torch
import torch as th
import torch.serialization
import torch.serialization as ser
from torch import load as tload
from torch.serialization import load
from torch import serialization
from torch.hub import load_state_dict_from_url
import torch.utils.model_zoo


def every_import_form(p):
    torch.load(p)
    th.load(p)
    torch.serialization.load(p)
    ser.load(p)
    tload(p)
    load(p)
    serialization.load(p)
    load_state_dict_from_url(p)
    torch.utils.model_zoo.load_url(p)
)py";

const char* kArguments = R"py(import pickle
import torch


def every_argument_form(p, kw, flag, args):
    torch.load(p, weights_only=True)
    torch.load(p, weights_only=False)
    torch.load(p, weights_only=None)
    torch.load(p, map_location="cpu")
    torch.load(p, weights_only=flag)
    torch.load(p, **kw)
    torch.load(p, "cpu", pickle)
    torch.load(p, pickle_module=pickle)
    torch.load(p, mmap=True, weights_only=True)
    torch.hub.load_state_dict_from_url(p, None, None, True, False, None, True)
)py";

const char* kFallbacks = R"py(import torch


def except_fallback(path):
    try:
        return torch.load(path, weights_only=True)
    except Exception:
        return torch.load(path, weights_only=False)


def bare_attempt_then_full(path):
    try:
        return torch.load(path)
    except torch.serialization.pickle.UnpicklingError:
        return torch.load(path, weights_only=False)


def retry_loop(path):
    for flag in (True, False):
        try:
            return torch.load(path, weights_only=flag)
        except Exception:
            continue


def not_a_fallback(path, other):
    try:
        return torch.load(path, weights_only=True)
    except Exception:
        return torch.load(other, weights_only=False)


def old_torch_shim(path):
    try:
        return torch.load(path, weights_only=True)
    except TypeError:
        return torch.load(path)
)py";

const char* kSafeGlobals = R"py(import argparse

import torch
from torch.serialization import safe_globals


def literal(path):
    with torch.serialization.safe_globals([argparse.Namespace, (int, "builtins.int")]):
        return torch.load(path)


def imported_name(path, allowed):
    with safe_globals(allowed):
        return torch.load(path, weights_only=True)


def outside(path):
    return torch.load(path, weights_only=True)
)py";

const char* kNonCalls = R"py("""torch.load(x) in a docstring is not a call."""
import pickle

import numpy
import torch
from torch import load

# torch.load(x) in a comment is not a call
TEXT = "torch.load(x)"


class Store:
    def load(self, path):
        return path


def load(path):  # a local function named load hides the import above
    return path


def calls_that_are_not_torch(path, obj, torch=None):
    pickle.load(path)
    numpy.load(path)
    obj.load(path)
    Store().load(path)
    load(path)
    torch.load(path)  # the parameter named torch, not the module
)py";

const char* kScopes = R"py(try:
    import torch
except ImportError:
    torch = None


def fallback_import(path):
    return torch.load(path, weights_only=True)


def lazy():
    global th
    import torch as th


def uses_lazy(path):
    return th.load(path, weights_only=True)


with torch.serialization.safe_globals([int]):
    def restore(path):
        return torch.load(path, weights_only=True)


def multiline(path):
    return torch.load(
        path,
    )
)py";

std::map<std::pair<std::string, int64_t>, Json> calls_by_place(const Json& audit) {
  std::map<std::pair<std::string, int64_t>, Json> out;
  for (const auto& call : audit["call_sites"]) {
    std::string path = call["path"];
    out[{path.substr(path.rfind('/') + 1), call["line"].get<int64_t>()}] = call;
  }
  return out;
}

std::map<std::string, Json> files_by_name(const Json& audit) {
  std::map<std::string, Json> out;
  for (const auto& file : audit["files"]) {
    std::string path = file["path"];
    out[path.substr(path.rfind('/') + 1)] = file;
  }
  return out;
}

std::string effective(const Json& call, const std::string& env) {
  for (const auto& result : call["results"]) {
    if (result["env"] == env) {
      return result["effective"];
    }
  }
  return "absent";
}

std::vector<std::string> rules_of(const Json& call) {
  std::vector<std::string> out;
  for (const auto& finding : call["findings"]) {
    out.push_back(finding["rule"]);
  }
  return out;
}

class AuditEnvTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    for (const auto& name : test_support::default_env_names()) {
      test_support::open_test_env(name);
    }
    sources_ = new Sources();
    sources_->add("imports.py", kImports);
    sources_->add("arguments.py", kArguments);
    sources_->add("fallbacks.py", kFallbacks);
    sources_->add("safe_globals.py", kSafeGlobals);
    sources_->add("non_calls.py", kNonCalls);
    sources_->add("scopes.py", kScopes);
    sources_->add("errors/syntax.py", "import torch\ndef (:\n    torch.load(x)\n");
    sources_->add("errors/python2.py", "import torch\nprint \"x\"\ntorch.load(x)\n");
    sources_->add("errors/undecodable.py", "import torch\nx = \"\xff\xfe\"\ntorch.load(x)\n");
    // Latin-1 with its coding cookie: parsed, and columns counted in characters.
    sources_->add("latin1.py", "# -*- coding: latin-1 -*-\nimport torch\n"
                               "x = \"\xe9t\xe9\"; torch.load(x)\n");
    auto unreadable = sources_->add("errors/unreadable.py", "import torch\ntorch.load(x)\n");
    ::chmod(unreadable.c_str(), 0600);
    ::mkfifo((sources_->path() / "errors" / "pipe.py").c_str(), 0644);
    sources_->add("notes.txt", "torch.load(x) in a file that is not Python");
    sources_->add("odd/bad\xffname.py", "import torch\ntorch.load(x)\n"); // not UTF-8
    auto run = run_loadmatrix({"audit", sources_->path().string(), "--json", "-"});
    exit_status_ = run.exit_code;
    stderr_ = run.stderr_text;
    auto parsed = parse_json(run.stdout_text, "audit --json -");
    audit_ = new Json(parsed ? *parsed : Json());
  }
  static void TearDownTestSuite() {
    delete audit_;
    delete sources_;
  }

  static Sources* sources_;
  static Json* audit_;
  static int exit_status_;
  static std::string stderr_;
};
Sources* AuditEnvTest::sources_ = nullptr;
Json* AuditEnvTest::audit_ = nullptr;
int AuditEnvTest::exit_status_ = -1;
std::string AuditEnvTest::stderr_;

} // namespace

TEST_F(AuditEnvTest, FindsEveryImportFormAndNamesTheCanonicalCallee) {
  ASSERT_TRUE(audit_->is_object()) << stderr_;
  EXPECT_EQ(exit_status_, 1) << stderr_; // findings
  EXPECT_EQ((*audit_)["schema"], "loadmatrix.audit/1");
  auto calls = calls_by_place(*audit_);
  std::map<int64_t, std::string> expected = {{13, "torch.load"},
                                             {14, "torch.load"},
                                             {15, "torch.serialization.load"},
                                             {16, "torch.serialization.load"},
                                             {17, "torch.load"},
                                             {18, "torch.serialization.load"},
                                             {19, "torch.serialization.load"},
                                             {20, "torch.hub.load_state_dict_from_url"},
                                             {21, "torch.utils.model_zoo.load_url"}};
  for (const auto& [line, callee] : expected) {
    ASSERT_TRUE(calls.contains({"imports.py", line})) << "line " << line;
    const Json& call = calls.at({"imports.py", line});
    EXPECT_EQ(call["callee"], callee) << "line " << line;
    EXPECT_EQ(call["function"], "every_import_form");
    EXPECT_EQ(call["column"], 5);
  }
  EXPECT_EQ(std::count_if(calls.begin(), calls.end(),
                          [](const auto& entry) { return entry.first.first == "imports.py"; }),
            9);
}

TEST_F(AuditEnvTest, DescribesEveryArgumentFormAndWhatEachEnvDoesWithIt) {
  auto calls = calls_by_place(*audit_);
  struct Expected {
    int64_t line;
    std::string weights_only, pickle_module, mmap;
  };
  for (const auto& want : std::vector<Expected>{{6, "true", "omitted", "omitted"},
                                                {7, "false", "omitted", "omitted"},
                                                {8, "none", "omitted", "omitted"},
                                                {9, "omitted", "omitted", "omitted"},
                                                {10, "dynamic", "omitted", "omitted"},
                                                {11, "dynamic", "dynamic", "dynamic"},
                                                {12, "omitted", "passed", "omitted"},
                                                {13, "omitted", "passed", "omitted"},
                                                {14, "true", "omitted", "passed"},
                                                {15, "true", "omitted", "omitted"}}) {
    ASSERT_TRUE(calls.contains({"arguments.py", want.line})) << "line " << want.line;
    const Json& call = calls.at({"arguments.py", want.line});
    EXPECT_EQ(call["weights_only"], want.weights_only) << "line " << want.line;
    EXPECT_EQ(call["pickle_module"], want.pickle_module) << "line " << want.line;
    EXPECT_EQ(call["mmap"], want.mmap) << "line " << want.line;
  }
  // Measured in the envs: 1.13's default is the full unpickler, 2.6's and 2.14's weights-only.
  const Json& omitted = calls.at({"arguments.py", 9});
  EXPECT_EQ(effective(omitted, "bookworm"), "full");
  EXPECT_EQ(effective(omitted, "trixie"), "weights_only");
  EXPECT_EQ(effective(omitted, "sid"), "weights_only");
  EXPECT_EQ(rules_of(omitted), std::vector<std::string>{"LMA001"});
  // pickle_module keeps the full unpickler on 2.6+.
  EXPECT_EQ(effective(calls.at({"arguments.py", 13}), "trixie"), "full");
  EXPECT_EQ(rules_of(calls.at({"arguments.py", 13}))[0], "LMA003");
  // 1.13 has no mmap: TypeError there.
  const Json& mmap = calls.at({"arguments.py", 14});
  EXPECT_EQ(effective(mmap, "bookworm"), "error");
  EXPECT_EQ(effective(mmap, "sid"), "weights_only");
  EXPECT_EQ(rules_of(mmap), std::vector<std::string>{"LMA004"});
  // The hub wrapper on 1.13 has no weights_only, positional or not.
  EXPECT_EQ(effective(calls.at({"arguments.py", 15}), "bookworm"), "error");
  EXPECT_EQ(effective(calls.at({"arguments.py", 10}), "sid"), "unknown");
  EXPECT_EQ(rules_of(calls.at({"arguments.py", 10})), std::vector<std::string>{"LMA006"});
}

TEST_F(AuditEnvTest, TheFallbackPatternIsFoundOnlyOnTheSameInput) {
  auto calls = calls_by_place(*audit_);
  const Json& except = calls.at({"fallbacks.py", 8});
  ASSERT_TRUE(except["fallback"].is_object());
  EXPECT_EQ(except["fallback"]["kind"], "except");
  EXPECT_EQ(except["fallback"]["attempt_line"], 6);
  // LMA004: the attempt's weights_only=True is a TypeError on torch 1.7 (bullseye).
  EXPECT_EQ(rules_of(except), (std::vector<std::string>{"LMA002", "LMA004", "LMA005"}));
  EXPECT_EQ(calls.at({"fallbacks.py", 15})["fallback"]["attempt_line"], 13);
  EXPECT_EQ(calls.at({"fallbacks.py", 21})["fallback"]["kind"], "retry");
  EXPECT_TRUE(calls.at({"fallbacks.py", 6})["fallback"].is_null());
  EXPECT_TRUE(calls.at({"fallbacks.py", 30})["fallback"].is_null()); // another input
  EXPECT_TRUE(calls.at({"fallbacks.py", 37})["fallback"].is_null()); // 1.x's TypeError shim
  // A bare retry is the full unpickler only where that is the default: LMA002 names bookworm.
  const Json& bare = calls.at({"fallbacks.py", 15});
  EXPECT_EQ(rules_of(bare)[0], "LMA002");
}

TEST_F(AuditEnvTest, SafeGlobalsBlocksAreSeenWithTheirNames) {
  auto calls = calls_by_place(*audit_);
  const Json& literal = calls.at({"safe_globals.py", 9});
  EXPECT_EQ(literal["safe_globals"]["names"],
            (std::vector<std::string>{"argparse.Namespace", "builtins.int"}));
  // 1.13 has no safe_globals: the block itself raises there.
  EXPECT_EQ(effective(literal, "bookworm"), "error");
  EXPECT_EQ(effective(literal, "trixie"), "weights_only");
  EXPECT_TRUE(calls.at({"safe_globals.py", 14})["safe_globals"]["names"].is_null());
  EXPECT_TRUE(calls.at({"safe_globals.py", 18})["safe_globals"].is_null());
}

TEST_F(AuditEnvTest, OptionalAndLazyImportsAreFollowedAndAWithDoesNotReachIntoADef) {
  auto calls = calls_by_place(*audit_);
  EXPECT_TRUE(calls.contains({"scopes.py", 8})) << "try: import torch / except: torch = None";
  EXPECT_TRUE(calls.contains({"scopes.py", 17})) << "global th; import torch as th";
  ASSERT_TRUE(calls.contains({"scopes.py", 22}));
  EXPECT_TRUE(calls.at({"scopes.py", 22})["safe_globals"].is_null()); // runs after the block
  // A call over several lines is suggested in the generic form, not a joined rewrite; torch 1.7
  // (bullseye) has no weights_only, so the form that works on all four drops what a torch lacks.
  const Json& multiline = calls.at({"scopes.py", 26});
  EXPECT_EQ(multiline["end_line"], 28);
  std::string suggestion = multiline["findings"][0]["suggestion"].get<std::string>();
  EXPECT_NE(suggestion.find("`torch.load(..., **load_kwargs)`"), std::string::npos)
      << multiline.dump();
  EXPECT_NE(suggestion.find("if key in inspect.signature(torch.load).parameters"),
            std::string::npos);
  EXPECT_NE(suggestion.find("bullseye (1.7.0a0) lacks what it drops"), std::string::npos);
  EXPECT_EQ(effective(multiline, "bullseye"), "full");
}

TEST_F(AuditEnvTest, StringsCommentsOtherLoadsAndShadowedNamesAreNotCalls) {
  for (const auto& call : (*audit_)["call_sites"]) {
    EXPECT_EQ(call["path"].get<std::string>().find("non_calls.py"), std::string::npos)
        << call.dump();
    EXPECT_EQ(call["path"].get<std::string>().find("notes.txt"), std::string::npos);
  }
  EXPECT_EQ(files_by_name(*audit_).at("non_calls.py")["status"], "ok");
  EXPECT_FALSE(files_by_name(*audit_).contains("notes.txt")); // not Python
}

TEST_F(AuditEnvTest, EveryBadFileGetsItsOwnErrorAndTheAuditGoesOn) {
  auto files = files_by_name(*audit_);
  auto error_of = [&](const std::string& name) {
    return files.at(name)["status"] == "error" ? files.at(name)["error"].get<std::string>() : "";
  };
  EXPECT_NE(error_of("syntax.py").find("line 2"), std::string::npos);
  EXPECT_NE(error_of("python2.py").find("Missing parentheses"), std::string::npos);
  EXPECT_NE(error_of("undecodable.py").find("Non-UTF-8"), std::string::npos);
  EXPECT_NE(error_of("unreadable.py").find("nobody"), std::string::npos);
  EXPECT_NE(error_of("pipe.py").find("FIFO"), std::string::npos);
  EXPECT_EQ(files.at("latin1.py")["status"], "ok");
  auto calls = calls_by_place(*audit_);
  const Json& latin1 = calls.at({"latin1.py", 3});
  EXPECT_EQ(latin1["column"], 12); // x = "été"; is 11 characters (14 bytes in UTF-8)
}

TEST_F(AuditEnvTest, AFileNamedWithBytesThatAreNotUtf8IsAuditedAndShownEscaped) {
  bool found = false;
  for (const auto& call : (*audit_)["call_sites"]) {
    found |= call["path"].get<std::string>().ends_with("odd/bad\\xffname.py");
  }
  EXPECT_TRUE(found) << (*audit_)["files"].dump();
}

TEST_F(AuditEnvTest, AnAssumedVariableChangesTheUnpicklerAndABadOneIsAUsageError) {
  auto run = run_loadmatrix({"audit", (sources_->path() / "arguments.py").string(), "--json", "-",
                             "--assume-env", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1"});
  auto audit = parse_json(run.stdout_text, "audit");
  ASSERT_TRUE(audit) << run.stderr_text;
  EXPECT_EQ((*audit)["assume_env"], "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1");
  EXPECT_EQ(effective(calls_by_place(*audit).at({"arguments.py", 9}), "sid"), "full");
  auto bad = run_loadmatrix({"audit", sources_->path().string(), "--assume-env", "FOO=1"});
  EXPECT_EQ(bad.exit_code, 4) << bad.stderr_text;
  auto missing = run_loadmatrix({"audit", (sources_->path() / "errors" / "missing").string()});
  EXPECT_EQ(missing.exit_code, 2) << missing.stderr_text; // a path that does not exist: its error
  test_support::TempDir empty;
  auto nothing = run_loadmatrix({"audit", empty.path().string()});
  EXPECT_EQ(nothing.exit_code, 3) << nothing.stderr_text;
}

TEST_F(AuditEnvTest, TheSarifPassesMicrosoftsSarifMultitool) {
  test_support::TempDir out;
  auto sarif = out.path() / "audit.sarif";
  auto run = run_loadmatrix({"audit", sources_->path().string(), "--sarif", sarif.string()});
  ASSERT_EQ(run.exit_code, 1) << run.stderr_text;
  auto validation = out.path() / "validation.sarif";
  std::string command = std::string(LOADMATRIX_SOURCE_DIR) + "/scripts/sarif-multitool validate " +
                        sarif.string() + " -o " + validation.string() + " > /dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  auto report = read_json_file(validation);
  ASSERT_TRUE(report) << report.error().message;
  const Json& problems = (*report)["runs"][0]["results"];
  EXPECT_TRUE(problems.empty()) << problems.dump(1);
  // And it says what a code-scanning UI shows: a result per finding, at the call.
  auto document = read_json_file(sarif);
  ASSERT_TRUE(document);
  size_t findings = 0;
  for (const auto& call : (*audit_)["call_sites"]) {
    findings += call["findings"].size();
  }
  EXPECT_EQ((*document)["runs"][0]["results"].size(), findings);
}

// The example library end to end: the run names modelkit's own torch.load line when its
// scenario breaks, proves both fixes there, and the audit links that line to the run.
TEST(AuditScenarioEnvTest, TheExampleLibrarysLineIsNamedAndItsFixesVerified) {
  for (const auto& name : test_support::default_env_names()) {
    test_support::open_test_env(name);
  }
  test_support::TempDir out;
  auto run = run_loadmatrix({"run", "--cases", "modelkit_clone_module", "--out",
                             (out.path() / "run").string(), "--fail-on", "none"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  auto results = out.path() / "run" / "results.json";
  auto records = test_support::records_by_key(results);
  std::filesystem::path library =
      std::filesystem::path(LOADMATRIX_SOURCE_DIR) / "cases" / "fixtures" / "modelkit";
  for (const std::string env : {"trixie", "sid"}) {
    const Json& record = records.at("modelkit_clone_module|" + env + "|" + env + "|scenario");
    EXPECT_EQ(record["outcome"], "blocked") << env;
    ASSERT_TRUE(record.contains("call_site")) << record.dump();
    EXPECT_EQ(std::filesystem::path(record["call_site"]["file"].get<std::string>()),
              library / "module_utils.py");
    EXPECT_EQ(record["call_site"]["line"], 12);
    EXPECT_EQ(record["call_site"]["function"], "clone_module");
    std::map<std::string, bool> verified;
    for (const auto& fix : record["code_fixes"]) {
      verified[fix["kind"]] = fix["verified"];
    }
    EXPECT_TRUE(verified["allowlist"]) << record.dump();
    EXPECT_TRUE(verified["weights_only_false"]) << record.dump();
  }
  const Json& old = records.at("modelkit_clone_module|bookworm|bookworm|scenario");
  EXPECT_EQ(old["outcome"], "pass");
  EXPECT_FALSE(old.contains("call_site"));

  auto audit = run_loadmatrix({"audit", library.string(), "--results", results.string(), "--json",
                               "-", "--out", (out.path() / "audit").string()});
  ASSERT_EQ(audit.exit_code, 1) << audit.stderr_text;
  auto document = parse_json(audit.stdout_text, "audit");
  ASSERT_TRUE(document) << audit.stderr_text;
  ASSERT_EQ((*document)["call_sites"].size(), 1u);
  const Json& call = (*document)["call_sites"][0];
  EXPECT_EQ(call["line"], 12);
  EXPECT_EQ(call["findings"][0]["rule"], "LMA001");
  // Portable to torch 1.7 (bullseye), which has no weights_only argument.
  EXPECT_NE(call["findings"][0]["suggestion"].get<std::string>().find(
                "`torch.load(buffer, **load_kwargs)`"),
            std::string::npos)
      << call.dump();
  EXPECT_EQ(call["scenarios"].size(), 2u);
  auto summary = read_text_file(out.path() / "audit" / "summary.md");
  ASSERT_TRUE(summary);
  EXPECT_NE(summary->find("run: scenario modelkit_clone_module on trixie: blocked - allowlist "
                          "torch.nn.modules.container.Sequential, torch.nn.modules.linear.Linear, "
                          "torch.nn.modules.activation.ReLU verified; weights_only=False verified"),
            std::string::npos)
      << *summary;
  EXPECT_TRUE(std::filesystem::exists(out.path() / "audit" / "report.html"));
}
