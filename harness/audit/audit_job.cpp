#include "audit/audit_job.h"

#include "audit/audit_publish.h"
#include "audit/call_site_parser.h"
#include "envs/pip_env.h"
#include "matrix/matrix.h"
#include "util/json_file.h"
#include "util/utf8.h"
#include "util/version_key.h"

#include <algorithm>
#include <chrono>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <map>
#include <tuple>

namespace loadmatrix {

Expected<std::string> assumed_variable(const std::vector<std::string>& settings) {
  std::string variable;
  for (const auto& setting : settings) {
    auto equals = setting.find('=');
    std::string name = setting.substr(0, equals);
    if (equals == std::string::npos || (name != kForceWeightsOnly && name != kForceNoWeightsOnly)) {
      return Error{fmt::format("--assume-env {}: expected {}=VALUE or {}=VALUE", setting,
                               kForceWeightsOnly, kForceNoWeightsOnly)};
    }
    // The values torch.serialization reads as set (its `true_values`).
    std::string value = setting.substr(equals + 1);
    if (value != "1" && value != "y" && value != "yes" && value != "true") {
      continue;
    }
    std::string key = name + "=1";
    if (!variable.empty() && variable != key) {
      return Error{"--assume-env: one TORCH_FORCE_* variable at a time (the envs measured each "
                   "alone)"};
    }
    variable = key;
  }
  return variable;
}

namespace {

// The newest Python parses the newest syntax (match, except*, type statements) and all the old.
const Environment& parser_env(const std::vector<Environment>& envs) {
  return *std::max_element(envs.begin(), envs.end(), [](const auto& a, const auto& b) {
    return version_key(a.fingerprint().python) < version_key(b.fingerprint().python);
  });
}

// The host's Python in the host's sandbox: what parses when every env is only facts. The parser
// reads files with ast, imports nothing of them, and needs no torch.
Environment host_parser_env(const std::filesystem::path& python, const ShippedFiles& shipped) {
  EnvSpec spec;
  spec.name = "host python3";
  spec.kind = EnvKind::local;
  spec.python = python.string();
  Environment env{spec,    Manifest{}, Sandbox::host(shipped.sandbox_init), python.string(),
                  shipped, {}};
  return env;
}

// One file's answer from the parser into `file` and `calls`; a malformed answer is the file's
// error.
void take_answer(const Json& answer, size_t index, AuditedFile& file,
                 std::vector<CallSite>& calls) {
  if (!answer.is_object()) {
    file.ok = false;
    file.error = "the parser gave no answer for this file";
    return;
  }
  file.ok = answer.value("status", "") == "ok";
  file.parsed = answer.value("parsed", false);
  if (auto notes = answer.find("notes"); notes != answer.end() && notes->is_array()) {
    for (const auto& note : *notes) {
      if (note.is_string() && std::find(file.notes.begin(), file.notes.end(),
                                        valid_utf8(note.get<std::string>())) == file.notes.end()) {
        file.notes.push_back(valid_utf8(note.get<std::string>()));
      }
    }
  }
  if (!file.ok) {
    auto error = answer.find("error");
    file.error = error != answer.end() && error->is_string() ? valid_utf8(error->get<std::string>())
                                                             : "the parser failed on this file";
    return;
  }
  auto found = answer.find("calls");
  if (found == answer.end() || !found->is_array()) {
    return;
  }
  std::vector<CallSite> parsed;
  for (const auto& call : *found) {
    auto site = CallSite::from_json(call, index);
    if (!site) {
      file.ok = false;
      file.error = "the parser's answer: " + site.error().message;
      return;
    }
    parsed.push_back(std::move(*site));
  }
  std::move(parsed.begin(), parsed.end(), std::back_inserter(calls));
}

// The distributions owning files under each site: chain hops into them are named by package.
using Owners = std::map<std::filesystem::path, std::pair<std::string, std::string>>;

void name_hops(CallSite& site, const std::filesystem::path& root, const Owners& owners) {
  for (auto& hop : site.chain) {
    auto relative = hop.path.lexically_relative(root).lexically_normal();
    if (auto owner = owners.find(relative); owner != owners.end()) {
      hop.package = printable_name(owner->second.first);
      hop.package_version = printable_name(owner->second.second);
      hop.display = printable_name(relative.string());
    }
  }
}

// Two parses' call sites are one when they are the same call reaching the same load the same
// way: a hop into an installed package by its distribution, version and path within it (the
// same release in two venvs is one chain).
std::string merge_key(const CallSite& site, const std::vector<std::filesystem::path>& sites) {
  std::string key =
      fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", site.file, site.line, site.column, site.callee,
                  written_weights_only_name(site.weights_only),
                  argument_use_name(site.pickle_module), argument_use_name(site.mmap), site.via,
                  site.weights_only_keyword, site.fallback ? site.fallback->attempt_line : -1);
  for (const auto& hop : site.chain) {
    std::string where = hop.path.string();
    if (!hop.package.empty()) {
      for (const auto& root : sites) {
        auto relative = hop.path.lexically_relative(root);
        if (!relative.empty() && *relative.begin() != "..") {
          where = hop.package + "==" + hop.package_version + ":" + relative.string();
        }
      }
    }
    key += fmt::format("|{}:{}", where, hop.line);
  }
  return key;
}

} // namespace

AuditResult run_audit(const AuditRequest& request, std::vector<Environment> envs,
                      ProcessRunner& runner, const AuditLog& log) {
  auto started = std::chrono::steady_clock::now();
  AuditResult result;
  result.variable = assumed_variable(request.assume_env).value_or_throw();
  result.envs = std::move(envs);
  auto python = [](std::string_view name) { return name.ends_with(".py"); };
  std::vector<size_t> readable;
  for (auto& input : collect_input_files(request.paths, python)) {
    AuditedFile file{std::move(input), true, {}, false, {}, {}, {}};
    if (!file.input.error.empty() || !file.input.skipped.empty()) {
      file.ok = false;
      file.error = file.input.error.empty() ? file.input.skipped : file.input.error;
    } else {
      readable.push_back(result.files.size());
    }
    result.files.push_back(std::move(file));
  }
  if (request.installed_site) {
    auto owners = distribution_files(*request.installed_site);
    for (auto& file : result.files) {
      auto relative =
          file.input.file.lexically_relative(*request.installed_site).lexically_normal();
      if (auto owner = owners.find(relative); owner != owners.end()) {
        // Names from the venv's directories: shown in a terminal, so made printable.
        file.package = printable_name(owner->second.first);
        file.package_version = printable_name(owner->second.second);
      }
    }
  }
  std::vector<Environment> runnable;
  for (const auto& env : result.envs) {
    if (env.runs_here()) {
      runnable.push_back(env);
    }
  }
  if (runnable.empty() && !readable.empty()) {
    if (result.envs.empty() || request.host_python.empty()) {
      throw FatalError(
          "audit parses with an env's Python, or the host's python3 when every env is known by "
          "its facts: no env of the selection is provisioned (loadmatrix envs provision)");
    }
    runnable.push_back(host_parser_env(request.host_python, result.envs.front().shipped));
  }
  // One parse per followed site (its envs' calls resolved through its packages), and one that
  // follows none for the envs under no site.
  struct Parse {
    std::vector<std::filesystem::path> roots;
    std::vector<bool> envs; // by AuditResult::envs' index
  };
  std::vector<Parse> parses;
  std::vector<bool> covered(result.envs.size(), false);
  for (const auto& followed : request.followed) {
    Parse parse{{followed.site}, std::vector<bool>(result.envs.size(), false)};
    for (size_t i = 0; i < result.envs.size(); ++i) {
      if (std::find(followed.envs.begin(), followed.envs.end(), result.envs[i].spec.name) !=
          followed.envs.end()) {
        parse.envs[i] = covered[i] = true;
      }
    }
    parses.push_back(std::move(parse));
  }
  if (std::find(covered.begin(), covered.end(), false) != covered.end() || parses.empty()) {
    std::vector<bool> rest(covered.size());
    std::transform(covered.begin(), covered.end(), rest.begin(), [](bool c) { return !c; });
    parses.push_back({{}, std::move(rest)});
  }
  std::vector<std::filesystem::path> all_sites;
  for (const auto& followed : request.followed) {
    all_sites.push_back(followed.site);
  }
  std::vector<std::pair<CallSite, std::vector<bool>>> merged;
  std::map<std::string, size_t> merged_at;
  if (!readable.empty()) {
    const Environment& parser = parser_env(runnable);
    result.parser_env = parser.spec.name;
    std::vector<const InputFile*> inputs;
    for (size_t index : readable) {
      inputs.push_back(&result.files[index].input);
    }
    std::map<std::filesystem::path, Owners> owners;
    if (request.installed_site) {
      owners[*request.installed_site] = distribution_files(*request.installed_site);
    }
    for (size_t p = 0; p < parses.size(); ++p) {
      const Parse& parse = parses[p];
      std::vector<Json> answers =
          parse_call_sites(parser, inputs, request.jobs, runner, parse.roots);
      std::vector<CallSite> sites;
      for (size_t position = 0; position < readable.size(); ++position) {
        // A file's status is its first parse's; every parse's notes and calls count.
        AuditedFile scratch = result.files[readable[position]];
        take_answer(answers[position], readable[position],
                    p == 0 ? result.files[readable[position]] : scratch, sites);
        if (p > 0) {
          result.files[readable[position]].notes = scratch.notes;
        }
      }
      for (auto& site : sites) {
        for (const auto& root : parse.roots) {
          auto [entry, added] = owners.try_emplace(root);
          if (added) {
            entry->second = distribution_files(root);
          }
          name_hops(site, root, entry->second);
        }
        if (request.installed_site) {
          name_hops(site, *request.installed_site, owners[*request.installed_site]);
        }
        // Shown in reports and in JSON: a host path's bytes may be anything.
        for (auto& hop : site.chain) {
          if (hop.display.empty()) {
            hop.display = printable_name(hop.path.string());
          }
        }
        if (site.fallback && !site.fallback->path.empty()) {
          site.fallback->path = printable_name(site.fallback->path.string());
        }
        std::string key = merge_key(site, all_sites);
        if (auto at = merged_at.find(key); at != merged_at.end()) {
          auto& reached = merged[at->second].second;
          for (size_t i = 0; i < reached.size(); ++i) {
            reached[i] = reached[i] || parse.envs[i];
          }
          continue;
        }
        merged_at.emplace(key, merged.size());
        merged.emplace_back(std::move(site), parse.envs);
      }
    }
  }
  // In file order, then source order (each parse gives them so; a merge keeps the first's).
  std::stable_sort(merged.begin(), merged.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first.file, a.first.line, a.first.column) <
           std::tie(b.first.file, b.first.line, b.first.column);
  });
  // Each call's reached envs as the rules see them, kept for LMA010 below.
  std::vector<std::vector<AuditEnv>> call_views;
  for (auto& [site, reached] : merged) {
    AuditedCall call{std::move(site), {}, {}, {}};
    std::vector<AuditEnv> views;
    for (size_t i = 0; i < result.envs.size(); ++i) {
      const Environment& env = result.envs[i];
      if (!reached[i]) {
        // An env under no followed site (`covered`) had its packages read by no parse.
        call.effects.push_back(
            {CallOutcome::not_reached,
             covered[i] ? "this env's installed packages do not route this call to this load"
                        : "this row goes through another env's installed packages; this env's "
                          "were not read (its site-packages is not on the host)"});
        continue;
      }
      const Fingerprint& fingerprint = env.fingerprint();
      const auto& facts = fingerprint.loader_calls;
      CallEffect effect = call_effect(call.site, facts ? &*facts : nullptr, result.variable,
                                      fingerprint.has_safe_globals, fingerprint.torch);
      call.effects.push_back(effect);
      views.push_back({env.spec.name, fingerprint.torch, facts ? &*facts : nullptr,
                       fingerprint.has_add_safe_globals, fingerprint.has_safe_globals, effect});
    }
    call.findings = audit_findings(call.site, views, result.variable);
    result.calls.push_back(std::move(call));
    call_views.push_back(std::move(views));
  }
  // The rows of one call through helpers that different envs' packages route differently
  // (--follow-installed): LMA010 where the releases load differently.
  std::map<std::tuple<size_t, int64_t, int64_t, std::string>, std::vector<size_t>> routes;
  for (size_t i = 0; i < result.calls.size(); ++i) {
    const CallSite& site = result.calls[i].site;
    if (!site.chain.empty() && !request.followed.empty()) {
      routes[{site.file, site.line, site.column, site.callee}].push_back(i);
    }
  }
  for (const auto& [where, indices] : routes) {
    if (indices.size() < 2) {
      continue;
    }
    std::vector<RouteRow> rows;
    for (size_t i : indices) {
      rows.push_back({&result.calls[i].site, call_views[i]});
    }
    if (auto finding = route_changed(rows, result.variable)) {
      for (size_t i : indices) {
        result.calls[i].findings.push_back(*finding);
      }
    }
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  log(fmt::format("audit: {} file(s), {} call site(s) in {:.2f} s (parsed with {}'s Python)",
                  result.files.size(), result.calls.size(), result.seconds, result.parser_env));
  return result;
}

Expected<void> link_scenarios(AuditResult& result, const std::filesystem::path& results) {
  auto document = read_json_file(results);
  if (!document) {
    return document.error();
  }
  auto records = document->find("records");
  if (!document->is_object() || records == document->end() || !records->is_array()) {
    return Error{
        fmt::format("{}: records: expected an array (a run's results.json)", results.string())};
  }
  auto same_file = [](const std::filesystem::path& a, const std::filesystem::path& b) {
    std::error_code ec;
    return std::filesystem::weakly_canonical(a, ec) == std::filesystem::weakly_canonical(b, ec);
  };
  // A results.json is foreign input: a field of another type is skipped, never thrown at.
  auto text = [](const Json& object, const char* key) {
    return valid_utf8(optional_string(object, key).value_or(""));
  };
  for (const auto& record : *records) {
    if (!record.is_object()) {
      continue;
    }
    auto site = record.find("call_site");
    if (site == record.end() || !site->is_object() || !site->contains("line") ||
        !(*site)["line"].is_number_integer()) {
      continue;
    }
    std::filesystem::path file = text(*site, "file");
    long long line = (*site)["line"].get<long long>();
    Json fixes = Json::array();
    if (auto listed = record.find("code_fixes"); listed != record.end() && listed->is_array()) {
      for (const auto& fix : *listed) {
        if (!fix.is_object()) {
          continue;
        }
        Json allowlist = Json::array();
        if (auto names = fix.find("allowlist"); names != fix.end() && names->is_array()) {
          for (const auto& name : *names) {
            if (name.is_string()) {
              allowlist.push_back(valid_utf8(name.get<std::string>()));
            }
          }
        }
        auto verified = fix.find("verified");
        fixes.push_back(
            {{"kind", text(fix, "kind")},
             {"verified", verified != fix.end() && verified->is_boolean() && verified->get<bool>()},
             {"allowlist", std::move(allowlist)},
             {"detail", text(fix, "detail")}});
      }
    }
    for (auto& call : result.calls) {
      if (line < call.site.line || line > std::max(call.site.end_line, call.site.line) ||
          !same_file(file, result.files[call.site.file].input.file)) {
        continue;
      }
      call.scenarios.push_back(
          {text(record, "case"), text(record, "consumer"), text(record, "outcome"), fixes});
    }
  }
  return {};
}

size_t linked_scenarios(const AuditResult& result) {
  size_t linked = 0;
  for (const auto& call : result.calls) {
    linked += call.scenarios.size();
  }
  return linked;
}

AuditJobResult audit_job(AuditJobRequest request, ProcessRunner& runner, const AuditLog& log,
                         JobOutput& output) {
  // The settings are checked before any env is opened or built.
  assumed_variable(request.audit.assume_env).value_or_throw();
  PreparedEnvs selection = prepare_envs(load_matrix(request.matrix).select_envs(request.envs),
                                        request.preparation, runner, log);
  if (!request.installed_env.empty()) {
    auto env = std::find_if(selection.envs.begin(), selection.envs.end(),
                            [&](const auto& e) { return e.spec.name == request.installed_env; });
    if (env == selection.envs.end() || !env->runs_here()) {
      throw FatalError(fmt::format(
          "--installed {}: not a provisioned env of the selection{} "
          "(loadmatrix envs provision {})",
          request.installed_env,
          env == selection.envs.end() ? "" : "; it is known here only by its measured facts",
          request.installed_env));
    }
    auto site = host_site_packages(*env).value_or_throw();
    log(fmt::format("audit: env {}'s installed packages, {}", request.installed_env,
                    site.string()));
    request.audit.paths.push_back(site);
    request.audit.installed_site = site;
  }
  if (request.follow_installed) {
    for (const auto& env : selection.envs) {
      auto site = env.runs_here() ? host_site_packages(env)
                                  : Expected<std::filesystem::path>(Error{"known only by its "
                                                                          "measured facts"});
      if (!site) {
        log(fmt::format("audit: env {}: its installed packages are not followed ({})",
                        env.spec.name, site.error().message));
        continue;
      }
      auto same = std::find_if(request.audit.followed.begin(), request.audit.followed.end(),
                               [&](const FollowedSite& f) { return f.site == *site; });
      if (same == request.audit.followed.end()) {
        request.audit.followed.push_back({*site, {env.spec.name}});
      } else {
        same->envs.push_back(env.spec.name);
      }
    }
    for (const auto& followed : request.audit.followed) {
      log(fmt::format("audit: following calls into {} for {}", followed.site.string(),
                      fmt::join(followed.envs, ", ")));
    }
  }
  AuditJobResult job;
  job.missing = std::move(selection.missing);
  job.result = run_audit(request.audit, std::move(selection.envs), runner, log);
  if (request.audit.results) {
    link_scenarios(job.result, *request.audit.results).value_or_throw();
    size_t linked = linked_scenarios(job.result);
    log(fmt::format("{}: {} scenario record(s) linked to an audited call site{}",
                    request.audit.results->string(), linked,
                    linked == 0
                        ? " (none of its failing scenarios stopped in these files; were they "
                          "audited where the run ran them?)"
                        : ""));
  }
  job.status = publish_audit(job, request.outputs, request.audit.paths, output);
  return job;
}

std::string rule_ids(const AuditedCall& call, std::string_view separator) {
  std::string ids;
  for (const auto& finding : call.findings) {
    ids += (ids.empty() ? "" : std::string(separator)) + finding.rule;
  }
  return ids.empty() ? "-" : ids;
}

std::string code_fix_text(const Json& fix) {
  std::string kind = fix.value("kind", "");
  std::string change = "weights_only=False";
  if (kind == "allowlist") {
    std::string names;
    for (const auto& name : fix.value("allowlist", Json::array())) {
      names += (names.empty() ? "" : ", ") + name.get<std::string>();
    }
    change = "allowlist " + (names.empty() ? std::string("(none)") : names);
  }
  std::string detail = fix.value("detail", "");
  if (fix.value("verified", false)) {
    return change + " verified";
  }
  if (detail.starts_with("not tried")) {
    return change + " " + detail;
  }
  return change + " did not help" + (detail.empty() ? "" : ": " + detail);
}

std::vector<std::string> evidence_lines(const AuditedCall& call) {
  std::vector<std::string> lines;
  for (const auto& scenario : call.scenarios) {
    std::string fixes;
    for (const auto& fix : scenario.code_fixes) {
      fixes += (fixes.empty() ? "" : "; ") + code_fix_text(fix);
    }
    lines.push_back(fmt::format("scenario {} on {}: {}{}", scenario.scenario, scenario.env,
                                scenario.outcome, fixes.empty() ? "" : " - " + fixes));
  }
  return lines;
}

bool has_findings(const AuditResult& result) {
  return std::any_of(result.calls.begin(), result.calls.end(), [](const AuditedCall& call) {
    return !call.findings.empty() ||
           std::any_of(call.scenarios.begin(), call.scenarios.end(),
                       [](const ScenarioEvidence& run) { return run.outcome != "pass"; });
  });
}

Json audit_json(const AuditJobResult& job) {
  const AuditResult& result = job.result;
  Json envs = Json::array();
  for (const auto& env : result.envs) {
    envs.push_back(env_summary(env));
  }
  Json files = Json::array();
  for (const auto& file : result.files) {
    Json entry = {{"path", file.input.display},
                  {"status", file.ok ? "ok" : "error"},
                  {"parsed", file.parsed}};
    entry["error"] = file.ok ? Json(nullptr) : Json(file.error);
    entry["notes"] = file.notes;
    if (!file.package.empty()) {
      entry["package"] = file.package;
      entry["package_version"] = file.package_version;
    }
    files.push_back(std::move(entry));
  }
  Json calls = Json::array();
  for (const auto& call : result.calls) {
    const CallSite& site = call.site;
    Json entry = {{"path", result.files[site.file].input.display},
                  {"line", site.line},
                  {"column", site.column},
                  {"end_line", site.end_line},
                  {"function", site.function},
                  {"callee", site.callee},
                  {"code", site.code},
                  {"weights_only", written_weights_only_name(site.weights_only)},
                  {"pickle_module", argument_use_name(site.pickle_module)},
                  {"mmap", argument_use_name(site.mmap)}};
    if (const AuditedFile& file = result.files[site.file]; !file.package.empty()) {
      entry["package"] = file.package;
      entry["package_version"] = file.package_version;
    }
    entry["safe_globals"] = !site.in_safe_globals ? Json(nullptr)
                            : site.safe_globals   ? Json{{"names", *site.safe_globals}}
                                                  : Json{{"names", nullptr}};
    entry["fallback"] = site.fallback ? Json{{"kind", site.fallback->kind},
                                             {"attempt_line", site.fallback->attempt_line}}
                                      : Json(nullptr);
    if (site.fallback && !site.fallback->path.empty()) {
      entry["fallback"]["path"] = site.fallback->path.string();
    }
    entry["via"] = site.via.empty() ? Json(nullptr) : Json(site.via);
    entry["weights_only_keyword"] =
        site.chain.empty() || !site.weights_only_keyword.empty()
            ? Json(site.chain.empty() ? std::string("weights_only") : site.weights_only_keyword)
            : Json(nullptr);
    entry["loads"] = site.loads;
    Json chain = Json::array();
    for (const auto& hop : site.chain) {
      Json frame = {{"path", printable_name(hop.path.string())},
                    {"line", hop.line},
                    {"column", hop.column},
                    {"function", hop.function},
                    {"code", hop.code}};
      if (!hop.package.empty()) {
        frame["package"] = hop.package;
        frame["package_version"] = hop.package_version;
      }
      chain.push_back(std::move(frame));
    }
    entry["chain"] = std::move(chain);
    Json findings = Json::array();
    for (const auto& finding : call.findings) {
      findings.push_back({{"rule", finding.rule},
                          {"message", finding.message},
                          {"suggestion", finding.suggestion}});
    }
    entry["findings"] = std::move(findings);
    Json results = Json::array();
    for (size_t i = 0; i < result.envs.size(); ++i) {
      results.push_back({{"env", result.envs[i].spec.name},
                         {"effective", call_outcome_name(call.effects[i].effective)},
                         {"reason", call.effects[i].reason}});
    }
    entry["results"] = std::move(results);
    Json scenarios = Json::array();
    for (const auto& evidence : call.scenarios) {
      scenarios.push_back({{"scenario", evidence.scenario},
                           {"env", evidence.env},
                           {"outcome", evidence.outcome},
                           {"code_fixes", evidence.code_fixes}});
    }
    entry["scenarios"] = std::move(scenarios);
    calls.push_back(std::move(entry));
  }
  Json rules = Json::array();
  for (const auto& rule : audit_rules()) {
    rules.push_back({{"id", rule.id},
                     {"name", rule.name},
                     {"description", rule.description},
                     {"level", rule.level}});
  }
  return {{"schema", kAuditSchema},         {"envs", std::move(envs)},
          {"missing_envs", job.missing},    {"parser_env", result.parser_env},
          {"assume_env", result.variable},  {"files", std::move(files)},
          {"call_sites", std::move(calls)}, {"rules", std::move(rules)},
          {"seconds", result.seconds}};
}

} // namespace loadmatrix
