#include "analysis/results_model.h"

#include "records/portable_fix.h"
#include "util/error.h"
#include "util/text.h"
#include "util/version_key.h"

#include <algorithm>
#include <fmt/core.h>
#include <set>

namespace loadmatrix {

std::string allowlist_snippet(const std::vector<std::string>& globals, std::string_view numpy) {
  std::string imports;
  std::vector<std::string> names;
  for (const auto& global : globals) {
    auto dot = global.rfind('.');
    std::string module = global.substr(0, dot);
    std::string name = global.substr(dot + 1);
    if (module == "builtins") {
      names.push_back(name);
      continue;
    }
    if (auto home = numpy2_home(global, numpy)) {
      imports += fmt::format("from {} import {}\n", home->substr(0, home->rfind('.')), name);
      names.push_back(fmt::format("({}, \"{}\")", name, global));
      continue;
    }
    imports += fmt::format("from {} import {}\n", module, name);
    names.push_back(name);
  }
  std::string list = "[" + join(names, ", ") + "]";
  return fmt::format("import torch\n{}\ntorch.serialization.add_safe_globals({})\n"
                     "# or, for one load only:\n"
                     "with torch.serialization.safe_globals({}):\n"
                     "    checkpoint = torch.load(path, weights_only=True)\n",
                     imports, list, list);
}

const char* CauseGroup::verb() const {
  bool refused = reason == "global_not_allowed" || reason == "module_blocklisted" ||
                 reason == "build_not_allowed";
  return refused ? "blocks" : "breaks";
}

const Record* ResultsModel::find(const std::string& case_name, const std::string& producer,
                                 const std::string& consumer, LoaderMode mode) const {
  auto it = index_.find(case_name + "|" + producer + "|" + consumer + "|" + loader_mode_id(mode));
  return it == index_.end() ? nullptr : &records[it->second];
}

std::map<Outcome, size_t> ResultsModel::outcome_counts() const {
  std::map<Outcome, size_t> counts;
  for (const auto& record : records) {
    ++counts[record.outcome];
  }
  return counts;
}

namespace {

bool failed(const Record* record) {
  return record != nullptr && outcome_info(record->outcome).is_failure;
}

bool passed(const Record* record) {
  return record != nullptr && record->outcome == Outcome::pass;
}

std::pair<std::string, std::string> cause_of(const Record& record) {
  if (record.outcome == Outcome::blocked && !record.blocked_globals.empty()) {
    return {join(record.blocked_globals, ", "), block_reason_id(record.reason)};
  }
  if (record.outcome == Outcome::blocked) {
    std::string reason = block_reason_id(record.reason);
    return {"weights-only refusal (" + reason + ")", reason};
  }
  std::string what = record.error_type.empty()
                         ? record.detail
                         : record.error_type + ": " + first_line(record.message, 100);
  return {std::string(outcome_id(record.outcome)) + ": " + what, outcome_id(record.outcome)};
}

// The portable snippet's checks for the group's files on every env of the run.
PortableFix portable_fix_for(const ResultsModel& model, const CauseGroup& group) {
  PortableFix fix;
  std::set<std::pair<std::string, std::string>> files;
  for (const auto& cell : group.cells) {
    if (cell.after->mode != LoaderMode::scenario) {
      files.insert({cell.case_name, cell.producer});
    }
  }
  if (files.empty()) {
    if (group.cells.front().after->outcome == Outcome::blocked) {
      fix.why_not = "loading code, not a file: the snippet loads files, and this is fixed in "
                    "the code's own torch.load call (the fix above)";
    }
    return fix; // a scenario that errors or crashes: no allowlist is a fix
  }
  for (const auto& env : model.envs) {
    std::string failure;
    bool checked = true;
    for (const auto& [case_name, producer] : files) {
      const Record* record = model.find(case_name, producer, env.name, LoaderMode::allowlist);
      if (!record || !record->portable) {
        checked = false;
        break;
      }
      // Each file was checked with every global any env refused in it; files of one group
      // (or merged shards) may differ. The snippet shown lists their union: allowlisting more
      // never makes a weights-only load refuse more, and the fallback branch reads no list.
      for (const auto& global : record->portable->globals) {
        if (std::find(fix.globals.begin(), fix.globals.end(), global) == fix.globals.end()) {
          fix.merged_lists = fix.merged_lists || !fix.globals.empty();
          fix.globals.push_back(global);
        }
      }
      if (!record->portable->verified && failure.empty()) {
        failure = fmt::format("{} ({}): {}", case_name, producer, record->portable->detail);
      }
    }
    if (!checked) {
      fix.unchecked_envs.push_back(env.name);
    } else if (!failure.empty()) {
      fix.failures.emplace_back(env.name, failure);
    } else {
      fix.verified_envs.push_back(env.name);
    }
  }
  if (!fix.globals.empty()) {
    PortableSnippet snippet = portable_snippet(fix.globals);
    fix.snippet = snippet.source;
    fix.why_not = snippet.why_not;
  }
  return fix;
}

SuggestedFix fix_for(const ResultsModel& model, const CauseGroup& group, const std::string& to) {
  SuggestedFix fix;
  auto env = std::find_if(model.envs.begin(), model.envs.end(),
                          [&](const EnvInfo& info) { return info.name == to; });
  std::string_view numpy = env != model.envs.end() ? std::string_view(env->numpy) : "";
  if (group.cells.front().after->mode == LoaderMode::scenario) {
    fix.note = "This is loading code, not a file: change its torch.load call to allowlist the "
               "globals (torch.serialization.safe_globals), or to weights_only=False if it only "
               "ever loads files it wrote itself. Unverified: these are the globals torch named; "
               "more may follow once they are allowed.";
    if (!group.cells.front().after->blocked_globals.empty()) {
      fix.kind = SuggestedFix::Kind::allowlist;
      fix.globals = group.cells.front().after->blocked_globals;
      fix.snippet = allowlist_snippet(fix.globals);
    }
    return fix;
  }
  bool blocked = group.cells.front().after->outcome == Outcome::blocked;
  std::set<std::pair<std::string, std::string>> files;
  for (const auto& cell : group.cells) {
    files.insert({cell.case_name, cell.producer});
  }
  // A scan's env answered from measured facts loads nothing: its allowlist records are
  // predictions (skipped), and a group whose every file has one gets that allowlist, unverified.
  std::vector<std::string> predicted;
  bool all_predicted = blocked && !files.empty();
  if (blocked) {
    bool all_allowlisted = true;
    std::vector<std::string> globals;
    for (const auto& [case_name, producer] : files) {
      const Record* allow = model.find(case_name, producer, to, LoaderMode::allowlist);
      bool prediction =
          allow != nullptr && allow->outcome == Outcome::skipped && !allow->allowlist.empty();
      all_predicted = all_predicted && prediction;
      if (prediction) {
        for (const auto& global : allow->allowlist) {
          if (std::find(predicted.begin(), predicted.end(), global) == predicted.end()) {
            predicted.push_back(global);
          }
        }
      }
      if (allow == nullptr || allow->outcome != Outcome::pass) {
        all_allowlisted = false;
        if (allow != nullptr && !allow->detail.empty()) {
          fix.note = allow->detail;
        }
        break;
      }
      for (const auto& global : allow->allowlist) {
        if (std::find(globals.begin(), globals.end(), global) == globals.end()) {
          globals.push_back(global);
        }
      }
    }
    if (all_allowlisted) {
      fix.kind = SuggestedFix::Kind::allowlist;
      fix.globals = globals;
      fix.verified = true;
      fix.snippet = allowlist_snippet(globals, numpy);
      fix.note = "Verified: with exactly these globals allowlisted, every file of this group "
                 "loaded with weights_only=True on this version.";
      return fix;
    }
  }
  if (all_predicted) {
    fix.kind = SuggestedFix::Kind::allowlist;
    fix.globals = predicted;
    fix.verified = false;
    fix.snippet = allowlist_snippet(predicted, numpy);
    fix.note = "Predicted from measured facts, not verified: nothing was loaded on this version.";
    return fix;
  }
  bool unsafe_loads = true;
  bool unsafe_tried = true; // a scan loads bare and weights_only only, never weights_only=False
  for (const auto& [case_name, producer] : files) {
    const Record* unsafe = model.find(case_name, producer, to, LoaderMode::unsafe);
    unsafe_tried = unsafe_tried && unsafe != nullptr && unsafe->outcome != Outcome::skipped;
    unsafe_loads = unsafe_loads && passed(unsafe);
  }
  if (!unsafe_tried) {
    fix.note = (fix.note.empty() ? std::string() : "No safe allowlist: " + fix.note + ". ") +
               "weights_only=False was not tried here; it runs whatever the pickle holds (trusted "
               "files only).";
    return fix;
  }
  if (unsafe_loads) {
    fix.kind = SuggestedFix::Kind::weights_only_false;
    fix.verified = true;
    fix.snippet = "checkpoint = torch.load(path, weights_only=False)\n";
    fix.note = (fix.note.empty() ? std::string() : "No safe allowlist: " + fix.note + ". ") +
               "Only for files you trust: weights_only=False runs whatever code the pickle "
               "holds. Verified to load every file of this group on this version.";
  } else {
    fix.note = (fix.note.empty() ? std::string() : fix.note + ". ") +
               "Neither an allowlist nor weights_only=False loads these files on this version; "
               "the message says what is missing.";
  }
  return fix;
}

VersionChange compare(const ResultsModel& model, const EnvInfo& from, const EnvInfo& to) {
  VersionChange change;
  change.from = from;
  change.to = to;
  for (const auto& record : model.records) {
    // Scenarios run in one env: compare the same scenario across the two envs.
    bool scenario = record.mode == LoaderMode::scenario;
    if (record.consumer != to.name || (scenario && record.producer != to.name)) {
      continue;
    }
    const Record* before =
        scenario ? model.find(record.case_name, from.name, from.name, LoaderMode::scenario)
                 : model.find(record.case_name, record.producer, from.name, record.mode);
    if (before == nullptr) {
      // No counterpart on `from` (a consecutive matrix's own-files cells, a missing cell): not a
      // comparison, so not counted as unchanged either.
      continue;
    }
    CellPair pair{record.case_name, scenario ? std::string("(same env)") : record.producer,
                  loader_mode_id(record.mode), before, &record};
    if (passed(before) && failed(&record)) {
      change.regressions.push_back(pair);
      ++change.regressions_by_mode_and_producer[pair.mode][pair.producer];
    } else if (failed(before) && passed(&record)) {
      change.fixes.push_back(pair);
    } else if (failed(before) && failed(&record)) {
      change.still_failing.push_back(pair);
    } else {
      ++change.unchanged;
    }
  }
  std::map<std::string, CauseGroup> groups;
  for (const auto& pair : change.regressions) {
    auto [cause, reason] = cause_of(*pair.after);
    // A scenario's fix is a change to its own code, not to a file: grouped apart.
    if (pair.after->mode == LoaderMode::scenario) {
      cause += " (scenario " + pair.case_name + ")";
    }
    CauseGroup& group = groups[cause];
    group.cause = cause;
    group.reason = reason;
    if (group.message.empty()) {
      group.message = pair.after->message.empty() ? pair.after->detail : pair.after->message;
    }
    group.cells.push_back(pair);
    for (const auto& [global, path] : pair.after->object_paths) {
      group.object_paths[global].insert(path);
    }
  }
  for (auto& [cause, group] : groups) {
    std::set<std::pair<std::string, std::string>> files;
    for (const auto& cell : group.cells) {
      files.insert({cell.case_name, cell.producer});
    }
    group.checkpoints = files.size();
    group.fix = fix_for(model, group, to.name);
    group.portable = portable_fix_for(model, group);
    change.causes.push_back(std::move(group));
  }
  std::stable_sort(change.causes.begin(), change.causes.end(), [](const auto& a, const auto& b) {
    return a.checkpoints != b.checkpoints ? a.checkpoints > b.checkpoints : a.cause < b.cause;
  });
  return change;
}

} // namespace

ResultsModel build_results_model(Json header, std::vector<Record> records,
                                 const std::vector<std::pair<std::string, std::string>>& pairs) {
  ResultsModel model;
  model.records = std::move(records);
  std::sort(model.records.begin(), model.records.end(),
            [](const Record& a, const Record& b) { return a.key() < b.key(); });
  for (size_t i = 0; i < model.records.size(); ++i) {
    model.index_[model.records[i].key()] = i;
  }
  for (const auto& env : header.value("envs", Json::array())) {
    EnvInfo info;
    info.name = env.value("name", "");
    info.torch = env.value("torch", "");
    info.python = env.value("python", "");
    info.numpy =
        env.contains("numpy") && env["numpy"].is_string() ? env["numpy"].get<std::string>() : "";
    info.kind = env.value("kind", "");
    if (auto packages = env.find("packages"); packages != env.end() && packages->is_object()) {
      for (const auto& [name, version] : packages->items()) {
        if (version.is_string()) {
          info.packages[name] = version.get<std::string>();
        }
      }
    }
    if (env.contains("weights_only_default") && env["weights_only_default"].is_boolean()) {
      info.weights_only_default = env["weights_only_default"].get<bool>();
    }
    if (env.contains("has_weights_only") && env["has_weights_only"].is_boolean()) {
      info.has_weights_only = env["has_weights_only"].get<bool>();
    }
    model.envs.push_back(info);
  }
  std::stable_sort(model.envs.begin(), model.envs.end(), [](const EnvInfo& a, const EnvInfo& b) {
    return version_key(a.torch) < version_key(b.torch);
  });
  std::set<std::string> cases;
  std::set<std::string> modes_seen;
  for (const auto& record : model.records) {
    cases.insert(record.case_name);
    modes_seen.insert(loader_mode_id(record.mode));
  }
  model.cases.assign(cases.begin(), cases.end());
  for (const auto& mode : header.value("modes", Json::array())) {
    if (modes_seen.contains(mode.get<std::string>())) {
      model.modes.push_back(mode.get<std::string>());
    }
  }
  if (modes_seen.contains("scenario")) {
    model.modes.push_back("scenario");
  }
  for (const auto& spec : header.value("cases", Json::array())) {
    model.case_notes[spec.value("name", "")] = spec.value("note", "");
  }
  auto env_named = [&](const std::string& name) -> const EnvInfo& {
    for (const auto& env : model.envs) {
      if (env.name == name) {
        return env;
      }
    }
    std::vector<std::string> known;
    for (const auto& env : model.envs) {
      known.push_back(env.name);
    }
    throw FatalError(fmt::format("--from/--to: no env named '{}' in the results (they have: {})",
                                 name, join(known, ", ")));
  };
  for (size_t i = 0; i + 1 < model.envs.size(); ++i) {
    model.changes.push_back(compare(model, model.envs[i], model.envs[i + 1]));
  }
  for (const auto& [from, to] : pairs) {
    model.changes.push_back(compare(model, env_named(from), env_named(to)));
  }
  header.erase("records");
  model.header = std::move(header);
  return model;
}

std::vector<std::string> what_differs(const EnvInfo& from, const EnvInfo& to) {
  std::vector<std::string> differences;
  for (const auto& [name, a, b] :
       {std::tuple{"torch", from.torch, to.torch}, std::tuple{"Python", from.python, to.python},
        std::tuple{"numpy", from.numpy, to.numpy}}) {
    if (a != b) {
      differences.push_back(
          fmt::format("{} {} → {}", name, a.empty() ? "(none)" : a, b.empty() ? "(none)" : b));
    }
  }
  if (from.torch == to.torch && from.kind != to.kind) {
    differences.push_back(fmt::format("kind {} → {}", from.kind, to.kind));
  }
  // CUDA runtime wheels move with torch: counted, not listed.
  size_t cuda = 0;
  std::set<std::string> names;
  if (from.packages.empty() || to.packages.empty()) {
    return differences; // one side (a Debian or local env) recorded no resolved set
  }
  for (const auto* packages : {&from.packages, &to.packages}) {
    for (const auto& [name, version] : *packages) {
      names.insert(name);
    }
  }
  for (const auto& name : names) {
    if (name == "torch" || name == "numpy") {
      continue;
    }
    auto a = from.packages.find(name);
    auto b = to.packages.find(name);
    bool gone = b == to.packages.end();
    bool added = a == from.packages.end();
    if (!gone && !added && a->second == b->second) {
      continue;
    }
    if (name.starts_with("nvidia-")) {
      ++cuda;
    } else if (added) {
      differences.push_back(fmt::format("+{} {}", name, b->second));
    } else if (gone) {
      differences.push_back(fmt::format("-{} {}", name, a->second));
    } else {
      differences.push_back(fmt::format("{} {} → {}", name, a->second, b->second));
    }
  }
  if (cuda > 0) {
    differences.push_back(fmt::format("{} nvidia-* package{}", cuda, cuda == 1 ? "" : "s"));
  }
  return differences;
}

bool ResultsModel::loads(const std::string& producer, const std::string& consumer) const {
  auto found = header.find("loads");
  if (found == header.end() || !found->contains(consumer)) {
    return true;
  }
  const Json& producers = (*found)[consumer];
  return std::find(producers.begin(), producers.end(), producer) != producers.end();
}

void attach_baseline(ResultsModel& model, const std::string& baseline_path,
                     std::vector<Record> baseline_records) {
  BaselineDiff diff;
  diff.baseline_path = baseline_path;
  diff.baseline_records = std::move(baseline_records);
  std::map<std::string, const Record*> old;
  for (const auto& record : diff.baseline_records) {
    old[record.key()] = &record;
  }
  for (const auto& record : model.records) {
    auto it = old.find(record.key());
    const Record* before = it == old.end() ? nullptr : it->second;
    if (failed(&record) && !failed(before)) {
      diff.new_failures.push_back(&record);
    } else if (failed(before) && passed(&record)) {
      diff.fixed.push_back(&record);
    } else if (failed(before) && failed(&record)) {
      diff.persisting.push_back(&record);
      if (before->outcome == record.outcome && before->message != record.message) {
        diff.changed_messages.emplace_back(&record, before->message);
      }
    }
    if (it != old.end()) {
      old.erase(it);
    }
  }
  for (const auto& [key, record] : old) {
    diff.missing.push_back(key);
  }
  model.diff = std::move(diff);
}

} // namespace loadmatrix
