#include "run/matrix_run.h"

#include "envs/resources.h"
#include "pickle/object_paths.h"
#include "probes/worker.h"
#include "records/allowlist_search.h"
#include "records/classify.h"
#include "util/hash.h"
#include "util/parallel.h"
#include "util/text.h"
#include "util/utf8.h"

#include <algorithm>
#include <fmt/core.h>
#include <semaphore>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace loadmatrix {

namespace {

using Clock = std::chrono::steady_clock;
// Where each host directory a worker needs appears inside its env.
struct Layout {
  SandboxMount checkpoints;
  SandboxMount scratch;
  std::vector<SandboxMount> case_roots;
  std::vector<SandboxMount> python_path;
  SandboxMount fixtures;

  // A path as the sandbox saw it, as the host names it (unchanged when no mount holds it).
  std::string host_path(const std::string& inside) const {
    std::vector<const SandboxMount*> mounts = {&checkpoints, &scratch, &fixtures};
    for (const auto& root : case_roots) {
      mounts.push_back(&root);
    }
    for (const auto& dir : python_path) {
      mounts.push_back(&dir);
    }
    std::filesystem::path path(inside);
    for (const SandboxMount* mount : mounts) {
      auto relative = path.lexically_relative(mount->inside);
      if (!mount->inside.empty() && !relative.empty() && *relative.begin() != "..") {
        return (mount->host / relative).lexically_normal().string();
      }
    }
    return inside;
  }

  std::filesystem::path inside_case(const CaseSpec& spec) const {
    for (const auto& root : case_roots) {
      if (root.host == std::filesystem::absolute(spec.root).lexically_normal()) {
        return root.inside / std::filesystem::relative(spec.file, spec.root);
      }
    }
    throw FatalError("internal: no mount for case root " + spec.root.string());
  }
};

std::vector<std::filesystem::path> case_roots(const std::vector<CaseSpec>& cases) {
  std::vector<std::filesystem::path> roots;
  for (const auto& spec : cases) {
    auto root = std::filesystem::absolute(spec.root).lexically_normal();
    if (std::find(roots.begin(), roots.end(), root) == roots.end()) {
      roots.push_back(root);
    }
  }
  return roots;
}

Layout layout_for(const Environment& env, const RunPlan& plan, const RunOptions& options) {
  Layout layout;
  layout.checkpoints = env.sandbox.place(checkpoints_root(options), "checkpoints",
                                         !options.checkpoints_from.has_value());
  layout.scratch = env.sandbox.place(options.out_dir / "scratch" / env.spec.name, "scratch", true);
  auto roots = case_roots(plan.cases);
  for (size_t i = 0; i < roots.size(); ++i) {
    layout.case_roots.push_back(env.sandbox.place(roots[i], fmt::format("cases{}", i), false));
  }
  for (size_t i = 0; i < options.python_path.size(); ++i) {
    layout.python_path.push_back(
        env.sandbox.place(options.python_path[i], fmt::format("pythonpath{}", i), false));
  }
  layout.fixtures = env.sandbox.place(resources().cases_dir / "fixtures", "fixtures", false);
  return layout;
}

WorkerOptions worker_options(const Layout& layout, const std::filesystem::path& log_file,
                             uint64_t cell_memory_bytes) {
  WorkerOptions options;
  options.request_memory_bytes = cell_memory_bytes;
  options.mounts = {layout.checkpoints, layout.scratch, layout.fixtures};
  options.mounts.insert(options.mounts.end(), layout.case_roots.begin(), layout.case_roots.end());
  options.mounts.insert(options.mounts.end(), layout.python_path.begin(), layout.python_path.end());
  options.python_path.push_back(layout.fixtures.inside.string());
  for (const auto& mount : layout.python_path) {
    options.python_path.push_back(mount.inside.string());
  }
  options.log_file = log_file;
  return options;
}

// A case's files are named after it, but a name is any file stem the user gave (up to 255
// bytes) and NAME_MAX is 255 with ".expect.json" still to come: a long name keeps its head
// and gets a digest of the whole, so two long names never share files.
std::string checkpoint_stem(const std::string& case_name) {
  constexpr size_t kLongest = 200;
  if (case_name.size() <= kLongest) {
    return case_name;
  }
  return truncate_utf8(case_name, kLongest - 17) + "-" + Fnv1a().add(case_name).hex();
}

std::filesystem::path checkpoint_file(const RunOptions& options, const std::string& producer,
                                      const std::string& case_name) {
  return checkpoints_root(options) / producer / (checkpoint_stem(case_name) + ".pt");
}

std::filesystem::path expectation_file(const RunOptions& options, const std::string& producer,
                                       const std::string& case_name) {
  return checkpoints_root(options) / producer / (checkpoint_stem(case_name) + ".expect.json");
}

void apply_classification(Record& record, const Classification& c) {
  record.outcome = c.outcome;
  record.error_type = c.error_type;
  record.message = c.message;
  record.detail = c.detail;
  record.reason = c.refusal.reason;
  record.blocked_globals = c.refusal.globals;
}

// What a fault of the driver's own while handling one cell (an unexpected reply shape, a file
// it could not write) makes of that cell: an `error` naming it, while every other cell goes on.
Json internal_error_facts(const std::exception& e) {
  return {{"status", "raised"},
          {"error_type", "loadmatrix"},
          {"message", "internal error handling this cell: " + valid_utf8(e.what())}};
}

Record internal_error_record(Record record, const std::exception& e) {
  apply_classification(record, classify(internal_error_facts(e), nullptr));
  return record;
}

// Why a load did not return, in few words: torch 2.6+ puts the reason after a paragraph about
// the flip ("WeightsUnpickler error: Unsupported global: ..."), which is the part to show; some
// reasons start on a later line ("WeightsUnpickler error: \n\nCan only SETITEM for dict, ...",
// 2.14's type checks, measured).
std::string refusal_text(const Json& facts) {
  std::string status = facts.value("status", "");
  if (status != "raised") {
    return status.empty() ? "no result" : status;
  }
  std::string message = strip_ansi(facts.value("message", ""));
  constexpr std::string_view kMarker = "WeightsUnpickler error:";
  if (auto at = message.find(kMarker); at != std::string::npos) {
    size_t reason = message.find_first_not_of(" \n\r\t", at + kMarker.size());
    message = std::string(kMarker) + " " +
              (reason == std::string::npos ? std::string() : message.substr(reason));
  }
  message = message.substr(0, message.find('\n'));
  return truncate_utf8(fmt::format("{}: {}", facts.value("error_type", ""), message), 300);
}

// One env's side of the run: its worker, its C++ probe, the cells it consumes.
class EnvRunner {
public:
  EnvRunner(const Environment& env, const RunPlan& plan, const RunOptions& options,
            ResultStore& store, ProcessRunner& runner, RunReport& report, std::mutex& report_mutex,
            const ProgressLog& log)
      : env_(env), plan_(plan), options_(options), store_(store), runner_(runner), report_(report),
        report_mutex_(report_mutex), log_(log), layout_(layout_for(env, plan, options)),
        worker_(env,
                worker_options(layout_, options.out_dir / "logs" / (env.spec.name + ".worker.log"),
                               options.cell_memory_bytes)) {
    // Mount sources must exist before the worker starts, in whichever phase that is.
    make_sandbox_writable(options.out_dir / "scratch" / env.spec.name);
  }

  void save_all() {
    make_sandbox_writable(checkpoints_root(options_) / env_.spec.name);
    // Who made these files, for consumers and merges that never see this env.
    auto described = write_json_file(checkpoints_root(options_) / env_.spec.name / "env.json",
                                     env_summary(env_));
    if (!described) {
      throw FatalError(described.error());
    }
    size_t saved = 0;
    for (const auto& spec : plan_.cases) {
      if (spec.kind != CaseKind::recipe ||
          std::filesystem::exists(expectation_file(options_, env_.spec.name, spec.name))) {
        continue;
      }
      // Whatever goes wrong saving one case is that case's: its load cells say why.
      Json reply;
      try {
        auto out =
            layout_.checkpoints.inside / env_.spec.name / (checkpoint_stem(spec.name) + ".pt");
        reply = worker_.call({{"op", "save"},
                              {"recipe", protocol_path(layout_.inside_case(spec))},
                              {"out", protocol_path(out)}},
                             options_.cell_timeout);
      } catch (const std::exception& e) {
        reply = internal_error_facts(e);
      }
      Json expectation = {{"case", spec.name}, {"producer", env_.spec.name}, {"save", reply}};
      auto written =
          write_json_file(expectation_file(options_, env_.spec.name, spec.name), expectation);
      if (!written) {
        log_(
            fmt::format("env {}: case {}: {}", env_.spec.name, spec.name, written.error().message));
        continue;
      }
      saved += reply.value("status", "") == "returned";
    }
    log_(fmt::format("env {}: saved {} checkpoint(s)", env_.spec.name, saved));
  }

  void load_all() {
    std::map<LoaderMode, std::vector<std::pair<const CaseSpec*, std::string>>> cpp_cells;
    size_t env_index = std::find(plan_.consumers.begin(), plan_.consumers.end(), env_.spec.name) -
                       plan_.consumers.begin();
    size_t total = plan_.consumers.size() * plan_.cases.size();
    auto mine = [&](size_t c) {
      return options_.shard.contains(env_index * plan_.cases.size() + c, total);
    };
    size_t planned = 0;
    for (size_t c = 0; c < plan_.cases.size(); ++c) {
      if (mine(c)) {
        planned += plan_.cases[c].kind == CaseKind::scenario ? 1 : plan_.producers.size();
      }
    }
    size_t done = 0;
    auto advance = [&](size_t units) {
      done += units;
      if (options_.progress) {
        options_.progress(env_.spec.name, done, planned);
      }
    };
    advance(0);
    for (size_t c = 0; c < plan_.cases.size(); ++c) {
      const CaseSpec& spec = plan_.cases[c];
      if (!mine(c)) {
        continue;
      }
      if (spec.kind == CaseKind::scenario) {
        run_scenario(spec);
        advance(1);
        continue;
      }
      for (const auto& producer : plan_.producers) {
        load_file(spec, producer, cpp_cells);
        advance(1);
      }
    }
    for (const auto& [mode, cells] : cpp_cells) {
      run_cpp_cells(mode, cells);
    }
  }

  // The portable snippet (records/portable_fix.h) for each file some env blocked, run here on
  // that file, its outcome kept on this env's allowlist-mode record of the file. `blocked`:
  // (case, producer) -> every global any env refused in it; `records`: the run's, by key.
  void check_portable(
      const std::map<std::pair<std::string, std::string>, std::vector<std::string>>& blocked,
      const std::map<std::string, Record>& records) {
    for (const auto& [file, globals] : blocked) {
      const auto& [case_name, producer] = file;
      auto found = records.find(base_record(case_name, producer, LoaderMode::allowlist).key());
      if (found == records.end()) {
        continue; // the allowlist mode was not run here (--modes, a shard)
      }
      Record record = found->second;
      PortableSnippet snippet = portable_snippet(globals);
      PortableCheck check{globals, false, snippet.why_not};
      if (!snippet.source.empty()) {
        try {
          Json request = {{"op", "snippet"},
                          {"source", snippet.source},
                          {"file", protocol_path(layout_.checkpoints.inside / producer /
                                                 (checkpoint_stem(case_name) + ".pt"))}};
          Json facts = worker_.call(request, options_.cell_timeout);
          std::string status = facts.value("status", "");
          check.verified = status == "returned";
          if (!check.verified) {
            check.detail = refusal_text(facts);
          }
        } catch (const std::exception& e) {
          check.detail = std::string("internal error: ") + e.what();
        }
      }
      record.portable = std::move(check);
      if (auto appended = store_.append(record); !appended) {
        throw FatalError(appended.error());
      }
    }
  }

private:
  Record base_record(const std::string& case_name, const std::string& producer,
                     LoaderMode mode) const {
    Record record;
    record.case_name = case_name;
    record.producer = producer;
    record.consumer = env_.spec.name;
    record.mode = mode;
    return record;
  }

  void commit(Record record) {
    place_blocked_globals(record);
    auto appended = store_.append(record);
    if (!appended) {
      throw FatalError(appended.error());
    }
    std::lock_guard lock(report_mutex_);
    ++report_.cells;
    ++report_.counts[record.outcome];
  }

  // Where in the saved object each blocked global sits: the fix on the saving side. Read
  // statically from the producer's file (once per file), never by loading it.
  void place_blocked_globals(Record& record) {
    if (record.outcome != Outcome::blocked || record.blocked_globals.empty() ||
        record.mode == LoaderMode::scenario) {
      return;
    }
    auto file = checkpoint_file(options_, record.producer, record.case_name);
    auto [it, added] = object_paths_.try_emplace(file.string());
    if (added) {
      auto paths = checkpoint_object_paths(file);
      if (paths) {
        it->second = std::move(*paths);
      } else {
        log_(fmt::format("{}: where its globals sit is not shown: {}", file.string(),
                         paths.error().message));
      }
    }
    for (const auto& global : record.blocked_globals) {
      if (const std::string* path = object_path_for(it->second, global)) {
        record.object_paths[global] = *path;
      }
    }
  }

  static void apply(Record& record, const Classification& c, const Json& facts) {
    apply_classification(record, c);
    record.duration_ms = facts.value("duration_ms", 0LL);
  }

  bool wanted(LoaderMode mode) const {
    return options_.modes.empty() ||
           std::find(options_.modes.begin(), options_.modes.end(), mode) != options_.modes.end();
  }

  // The search for a file's blocked globals (and, with the public API, its fix): once per
  // file, shared by every mode that finds the file blocked.
  const AllowlistSearch& search(const std::string& inside_file) {
    auto it = searches_.find(inside_file);
    if (it != searches_.end()) {
      return it->second;
    }
    auto load = [&](const std::vector<std::string>& allow) {
      return worker_.load(inside_file, LoaderMode::weights_only, allow, options_.cell_timeout);
    };
    return searches_.emplace(inside_file, search_allowlist(load)).first->second;
  }

  void
  load_file(const CaseSpec& spec, const std::string& producer,
            std::map<LoaderMode, std::vector<std::pair<const CaseSpec*, std::string>>>& cpp_cells) {
    auto expectation = read_json_file(expectation_file(options_, producer, spec.name));
    auto inside_file =
        (layout_.checkpoints.inside / producer / (checkpoint_stem(spec.name) + ".pt")).string();
    for (const auto& info : loader_modes()) {
      Record record = base_record(spec.name, producer, info.mode);
      if (!wanted(info.mode) || store_.has(record.key())) {
        continue;
      }
      std::optional<Record> done;
      try {
        done =
            load_cell(std::move(record), spec, producer, info, expectation, inside_file, cpp_cells);
      } catch (const std::exception& e) {
        done = internal_error_record(base_record(spec.name, producer, info.mode), e);
      }
      if (done) {
        commit(std::move(*done));
      }
    }
  }

  // One Python-mode cell's record, or nothing when the cell joins its env's C++ probe batch.
  std::optional<Record>
  load_cell(Record record, const CaseSpec& spec, const std::string& producer,
            const LoaderModeInfo& info, const Expected<Json>& expectation,
            const std::string& inside_file,
            std::map<LoaderMode, std::vector<std::pair<const CaseSpec*, std::string>>>& cpp_cells) {
    Json save = expectation ? expectation->value("save", Json::object()) : Json::object();
    bool saved = save.value("status", "") == "returned";
    if (!expectation) {
      record.outcome = Outcome::skipped;
      record.detail =
          fmt::format("no checkpoint from {}: {}", producer, expectation.error().message);
      return record;
    }
    if (!saved) {
      record.outcome = Outcome::skipped;
      Classification failure = classify(save, nullptr);
      record.detail = fmt::format("{} could not save it: {} {}", producer, failure.error_type,
                                  failure.message.empty() ? failure.detail : failure.message);
      return record;
    }
    if (info.cpp) {
      if (info.mode == LoaderMode::cpp_jit && save.value("format", "") != "torchscript") {
        record.outcome = Outcome::skipped;
        record.detail = "torch::jit::load reads TorchScript archives; this is a " +
                        save.value("format", std::string("?")) + " checkpoint";
        return record;
      }
      cpp_cells[info.mode].emplace_back(&spec, producer);
      return std::nullopt;
    }
    const Json& described = save.at("description");
    if (info.mode == LoaderMode::allowlist) {
      return allowlist_record(record, inside_file, described);
    }
    Json facts = worker_.load(inside_file, info.mode, {}, options_.cell_timeout);
    Classification c = classify(facts, &described);
    apply(record, c, facts);
    if (c.outcome == Outcome::blocked) {
      const AllowlistSearch& found = search(inside_file);
      append_unique(record.blocked_globals, found.blocked);
    }
    return record;
  }

  Record allowlist_record(Record record, const std::string& inside_file, const Json& described) {
    if (!env_.fingerprint().has_add_safe_globals) {
      record.outcome = Outcome::unsupported;
      record.detail = "torch.serialization.add_safe_globals does not exist in this version";
      return record;
    }
    const AllowlistSearch& found = search(inside_file);
    Classification last = classify(found.last_facts, &described);
    apply(record, last, found.last_facts);
    record.blocked_globals = found.blocked;
    record.reason = found.reason;
    if (last.outcome == Outcome::pass || last.outcome == Outcome::mismatch) {
      record.allowlist = found.allowlist;
    } else if (!found.stop.empty()) {
      record.detail = "no safe allowlist: " + found.stop;
    }
    return record;
  }

  void run_cpp_cells(LoaderMode mode,
                     const std::vector<std::pair<const CaseSpec*, std::string>>& cells) {
    auto probe = plan_.cpp_probes.find(env_.spec.name);
    std::vector<std::filesystem::path> files;
    for (const auto& [spec, producer] : cells) {
      files.push_back(checkpoint_file(options_, producer, spec->name));
    }
    std::vector<Json> facts;
    if (probe != plan_.cpp_probes.end()) {
      try {
        facts = run_cpp_probe_batch(env_, probe->second, runner_,
                                    mode == LoaderMode::cpp_jit ? "jit" : "pickle",
                                    checkpoints_root(options_), files, options_.cell_timeout);
      } catch (const std::exception& e) {
        facts.assign(files.size(), internal_error_facts(e));
      }
    }
    for (size_t i = 0; i < cells.size(); ++i) {
      Record record = base_record(cells[i].first->name, cells[i].second, mode);
      if (facts.empty()) {
        record.outcome = Outcome::unsupported;
        record.detail = "no C++ probe could be built in this env (no libtorch)";
      } else {
        // The C++ side describes content in its own terms, so only load/no-load is compared.
        try {
          apply(record, classify(facts[i], nullptr), facts[i]);
        } catch (const std::exception& e) {
          record = internal_error_record(std::move(record), e);
        }
      }
      commit(record);
    }
  }

  Json scenario_request(const CaseSpec& spec) const {
    return {{"op", "scenario"},
            {"script", protocol_path(layout_.inside_case(spec))},
            {"workdir", protocol_path(layout_.scratch.inside)}};
  }

  void run_scenario(const CaseSpec& spec) {
    Record record = base_record(spec.name, env_.spec.name, LoaderMode::scenario);
    if (store_.has(record.key())) {
      return;
    }
    try {
      Json facts = worker_.call(scenario_request(spec), options_.cell_timeout);
      apply(record, classify(facts, nullptr), facts);
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
  std::optional<CallSiteRef> call_site_of(const Json& facts) const {
    auto site = facts.find("call_site");
    if (site == facts.end() || !site->is_object()) {
      return std::nullopt;
    }
    // Foreign JSON: a field of another type (a null line from a frame Python could not place)
    // is left empty rather than thrown at.
    auto text = [&](const char* key) {
      return valid_utf8(optional_string(*site, key).value_or(""));
    };
    auto line = site->find("line");
    CallSiteRef ref{text("file"),
                    line != site->end() && line->is_number_integer() ? line->get<long long>() : 0,
                    text("function"), text("code")};
    ref.file = layout_.host_path(ref.file);
    return ref;
  }

  // A blocked scenario is run again with each change a user would make at its call site, and a
  // change is verified only when the scenario then passes: (a) the blocked globals allowlisted
  // (the same search as a checkpoint's), (b) the full unpickler, as an explicit
  // weights_only=False there does, through TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD where this torch
  // was measured to read it.
  void prove_code_fixes(const CaseSpec& spec, Record& record) {
    if (env_.fingerprint().has_add_safe_globals) {
      auto run_allowing = [&](const std::vector<std::string>& allow) {
        Json request = scenario_request(spec);
        request["allow"] = allow;
        return worker_.call(request, options_.cell_timeout);
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
      Classification full = classify(worker_.call(request, options_.cell_timeout), nullptr);
      CodeFix fix{"weights_only_false", full.outcome == Outcome::pass, {}, ""};
      if (!fix.verified) {
        fix.detail =
            fmt::format("{}: {} {}", outcome_id(full.outcome), full.error_type, full.message);
      }
      record.code_fixes.push_back(std::move(fix));
    }
  }

  const Environment& env_;
  const RunPlan& plan_;
  const RunOptions& options_;
  ResultStore& store_;
  ProcessRunner& runner_;
  RunReport& report_;
  std::mutex& report_mutex_;
  const ProgressLog& log_;
  Layout layout_;
  Worker worker_;
  std::map<std::string, AllowlistSearch> searches_;
  std::map<std::string, std::map<std::string, std::string>> object_paths_; // by file
};

} // namespace

std::filesystem::path checkpoints_root(const RunOptions& options) {
  return options.checkpoints_from ? *options.checkpoints_from : options.out_dir / "checkpoints";
}

std::vector<std::string> consumers_in_shard(const std::vector<std::string>& consumers,
                                            const std::vector<CaseSpec>& cases, Shard shard) {
  std::vector<std::string> selected;
  size_t total = consumers.size() * cases.size();
  for (size_t e = 0; e < consumers.size(); ++e) {
    for (size_t c = 0; c < cases.size(); ++c) {
      if (shard.contains(e * cases.size() + c, total)) {
        selected.push_back(consumers[e]);
        break;
      }
    }
  }
  return selected;
}

Shard Shard::parse(const std::string& text) {
  Shard shard;
  char slash = 0;
  std::istringstream in(text);
  if (!(in >> shard.index >> slash >> shard.count) || slash != '/' || !in.eof() ||
      shard.count == 0 || shard.index == 0 || shard.index > shard.count) {
    throw FatalError(fmt::format("--shard: '{}' is not I/N with 1 <= I <= N", text));
  }
  return shard;
}

Json results_header(const RunPlan& plan, const std::vector<LoaderMode>& modes,
                    const std::filesystem::path& checkpoints_root) {
  Json envs = Json::array();
  std::set<std::string> described;
  for (const auto& env : plan.envs) {
    envs.push_back(env_summary(env));
    described.insert(env.spec.name);
  }
  for (const auto& producer : plan.producers) {
    if (described.contains(producer)) {
      continue;
    }
    auto summary = read_json_file(checkpoints_root / producer / "env.json");
    if (!summary) {
      throw FatalError(fmt::format("producer {}: {} (its --save-only run leaves it beside the "
                                   "checkpoints)",
                                   producer, summary.error().message));
    }
    envs.push_back(*summary);
  }
  Json cases = Json::array();
  for (const auto& spec : plan.cases) {
    cases.push_back({{"name", spec.name},
                     {"kind", spec.kind == CaseKind::recipe ? "recipe" : "scenario"},
                     {"note", spec.note}});
  }
  Json mode_ids = Json::array();
  for (const auto& info : loader_modes()) {
    if (modes.empty() || std::find(modes.begin(), modes.end(), info.mode) != modes.end()) {
      mode_ids.push_back(info.id);
    }
  }
  return {{"envs", envs}, {"cases", cases}, {"modes", mode_ids}};
}

RunReport run_matrix(const RunPlan& plan, const RunOptions& options, ResultStore& store,
                     ProcessRunner& runner, const ProgressLog& log) {
  auto started = Clock::now();
  RunReport report;
  report.resumed = store.resumed();
  std::mutex report_mutex;
  std::filesystem::create_directories(options.out_dir / "logs");
  std::vector<std::unique_ptr<EnvRunner>> envs;
  for (const auto& env : plan.envs) {
    envs.push_back(
        std::make_unique<EnvRunner>(env, plan, options, store, runner, report, report_mutex, log));
  }
  size_t jobs =
      options.jobs > 0 ? options.jobs : std::max<size_t>(1, std::thread::hardware_concurrency());
  // Every producer saves before any consumer loads: a consumer needs all producers' files.
  if (!options.checkpoints_from) {
    for_each_on_own_thread(envs.size(), jobs, [&](size_t i) { envs[i]->save_all(); });
  }
  if (!options.save_only) {
    for_each_on_own_thread(envs.size(), jobs, [&](size_t i) { envs[i]->load_all(); });
    // One snippet per file that some env blocked, checked on every env: it needs every env's
    // refusals first (a shard sees its own cells' only).
    std::map<std::string, Record> records;
    std::map<std::pair<std::string, std::string>, std::vector<std::string>> blocked;
    for (auto& record : store.records()) {
      if (record.mode != LoaderMode::scenario && record.mode != LoaderMode::cpp_pickle &&
          record.mode != LoaderMode::cpp_jit) {
        auto& globals = blocked[{record.case_name, record.producer}];
        for (const auto& global : record.blocked_globals) {
          if (std::find(globals.begin(), globals.end(), global) == globals.end()) {
            globals.push_back(global);
          }
        }
      }
      std::string key = record.key();
      records.emplace(std::move(key), std::move(record));
    }
    std::erase_if(blocked, [](const auto& entry) { return entry.second.empty(); });
    if (!blocked.empty()) {
      log(fmt::format("portable fix: one snippet per blocked file ({}), checked on every env",
                      blocked.size()));
      for_each_on_own_thread(envs.size(), jobs,
                             [&](size_t i) { envs[i]->check_portable(blocked, records); });
    }
  }
  report.wall_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return report;
}

} // namespace loadmatrix
