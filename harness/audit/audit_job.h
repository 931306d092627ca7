// `loadmatrix audit` minus the CLI: the Python files under the paths, their torch loader call
// sites found by runtime/audit_calls.py in an env's sandbox (nothing of the code is
// imported or run), and for each call site what it does in every env of the matrix, the
// findings and their suggested changes.
#pragma once

#include "audit/audit_rules.h"
#include "audit/call_effect.h"
#include "audit/call_site.h"
#include "envs/environment.h"
#include "publish/document_outputs.h"
#include "session/env_preparation.h"
#include "util/input_files.h"
#include "util/process.h"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

inline constexpr const char* kAuditSchema = "loadmatrix.audit/1";

// The TORCH_FORCE_* setting `--assume-env VAR=VALUE` asks for, as the envs' facts key it: ""
// (none; a value torch does not read as true, such as 0) or "VAR=1". An error for a variable
// the audit does not know, or for both at once (each was measured alone).
Expected<std::string> assumed_variable(const std::vector<std::string>& settings);

struct AuditedFile {
  InputFile input;
  bool ok = true;      // false: "error" says why; the audit went on with the other files
  std::string error;   // "line 3: invalid syntax", "a FIFO: not opened", ...
  bool parsed = false; // false for a file that cannot name a loader (never spells `load`)
  // A file of an env's installed packages (--installed): the distribution whose RECORD lists it
  std::string package;
  std::string package_version;
  // What the parser could not follow in it: "line 1: `from x import *`: ..." (a star import of a
  // module it cannot read), one sentence each.
  std::vector<std::string> notes;

  // How reports name the file: "opacus 1.5.2: /…/site-packages/opacus/utils/module_utils.py".
  std::string label() const {
    return package.empty() ? input.display : package + " " + package_version + ": " + input.display;
  }
};

// A scenario of a run (results.json) that failed at this call site, and the code fixes the run
// proved there by re-running it (records/record.h, CodeFix).
struct ScenarioEvidence {
  std::string scenario; // the case
  std::string env;
  std::string outcome;
  Json code_fixes; // [{"kind", "verified", "allowlist", "detail"}], every field written
};

struct AuditedCall {
  CallSite site;
  // per env, in AuditResult::envs' order; not_reached for an env whose installed packages route
  // this call elsewhere (--follow-installed)
  std::vector<CallEffect> effects;
  std::vector<Finding> findings;
  std::vector<ScenarioEvidence> scenarios; // with --results: the run's evidence at this line
};

struct AuditResult {
  std::vector<Environment> envs;
  std::string parser_env; // whose Python parsed the files
  std::string variable;   // the assumed TORCH_FORCE_* setting, "" for none
  std::vector<AuditedFile> files;
  std::vector<AuditedCall> calls; // in file order, then source order
  double seconds = 0;
};

// An env's installed packages, followed for the envs that have them (--follow-installed): the
// calls into them are resolved through these files, so each env's own library versions decide
// what its call sites reach.
struct FollowedSite {
  std::filesystem::path site;    // a site-packages directory on the host
  std::vector<std::string> envs; // the envs of the audit whose packages these are
};

struct AuditRequest {
  std::vector<std::filesystem::path> paths;
  // One parse per site, each call site of it for its envs (others see it as not_reached); the
  // envs under no site get a parse that follows no installed package. Empty: one parse for all.
  std::vector<FollowedSite> followed;
  std::vector<std::string> assume_env; // VAR=VALUE
  size_t jobs = 0;                     // parser processes; 0: one per core
  // A run's results.json whose failing scenarios name their call sites: each is linked to the
  // audited call at the same file and line.
  std::optional<std::filesystem::path> results;
  // An env's site-packages among `paths` (--installed): its files are named by distribution.
  std::optional<std::filesystem::path> installed_site;
  // The Python that parses, in a sandbox on the host, when no env of the selection runs here
  // (each is known by its measured facts): the parser needs only Python's own ast. Empty: none.
  std::filesystem::path host_python;
};

struct AuditJobRequest {
  std::filesystem::path matrix;
  std::vector<std::string> envs; // of the matrix; empty: all
  EnvPreparation preparation;    // the env cache, what runs inside, whether to build
  AuditRequest audit;
  // --installed: this env's installed packages are audited too (envs/environment.h,
  // host_site_packages); it must be provisioned and among `envs`.
  std::string installed_env;
  // --follow-installed: every env of the selection whose site-packages is on the host has its
  // calls followed into its own installed packages (envs/environment.h, host_site_packages).
  bool follow_installed = false;
  // audit.json (loadmatrix.audit/1), its SARIF; --out: both, report.html and summary.md
  DocumentOutputs outputs;
};

struct AuditJobResult {
  AuditResult result;
  std::vector<std::string> missing; // envs of the selection that are not provisioned
  // nothing_found: no Python file; failing: a finding; error: a file could not be audited
  ExitStatus status = ExitStatus::ok;
};

using AuditLog = std::function<void(const std::string&)>;

// Writes the outputs asked for and prints the table on `output`. Throws FatalError when no env
// of the selection is provisioned (one must parse), a setting is bad or an output cannot be
// written; a file that cannot be read or parsed is that file's error.
AuditJobResult audit_job(AuditJobRequest request, ProcessRunner& runner, const AuditLog& log,
                         JobOutput& output);

// The files' and call sites' analysis with the envs already open: what audit_job runs.
AuditResult run_audit(const AuditRequest& request, std::vector<Environment> envs,
                      ProcessRunner& runner, const AuditLog& log);

// audit.json: {"schema", "envs", "parser_env", "assume_env", "missing_envs", "files", "call_sites",
// "rules", "seconds"}; doc/audit.md lists every field.
Json audit_json(const AuditJobResult& job);

// Links each failing scenario of `results` (a run's results.json) that names a call site to the
// audited call there (same file, its line within the call's lines). An error names the file.
Expected<void> link_scenarios(AuditResult& result, const std::filesystem::path& results);

// One proven fix of a linked run, as reports say it: "allowlist argparse.Namespace verified",
// "weights_only=False did not help: ...", "weights_only=False not tried: ...".
std::string code_fix_text(const Json& fix);

// A linked run's scenarios at this call site, one line each, as every renderer says them:
// "scenario modelkit_clone_module on sid: blocked - allowlist ... verified; weights_only=False
// verified".
std::vector<std::string> evidence_lines(const AuditedCall& call);

// The call's rule ids joined by `separator` ("LMA001,LMA004"), "-" for none.
std::string rule_ids(const AuditedCall& call, std::string_view separator);

// Whether any call site has a finding, or a linked run's scenario failed at one: audit's exit
// status 1.
bool has_findings(const AuditResult& result);

} // namespace loadmatrix
