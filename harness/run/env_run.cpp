#include "run/env_run.h"

#include "pickle/checkpoint_file.h"
#include "pickle/object_paths.h"
#include "run/cell_record.h"
#include "run/checkpoint_paths.h"
#include "util/file_contents.h"
#include "util/text.h"

#include <algorithm>
#include <fmt/core.h>

namespace loadmatrix {

namespace {

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

} // namespace

// What a run's worker sees: the checkpoints (writable when it saves them), its scratch, the
// fixtures' package and --python-path (importable), and the case roots.
EnvRun::Layout EnvRun::run_layout(const Environment& env, const RunPlan& plan,
                                  const RunOptions& options) {
  Layout made{SandboxLayout(env.sandbox), {}, {}};
  SandboxLayout& layout = made.layout;
  made.checkpoints =
      layout.add(checkpoints_root(options), "checkpoints", !options.checkpoints_from.has_value());
  made.scratch = layout.add(options.out_dir / "scratch" / env.spec.name, "scratch", true);
  if (!options.fixtures_dir.empty()) {
    layout.add(options.fixtures_dir, "fixtures", false, true);
  }
  auto roots = case_roots(plan.cases);
  for (size_t i = 0; i < roots.size(); ++i) {
    layout.add(roots[i], fmt::format("cases{}", i), false);
  }
  for (size_t i = 0; i < options.python_path.size(); ++i) {
    layout.add(options.python_path[i], fmt::format("pythonpath{}", i), false, true);
  }
  return made;
}

namespace {

// What a producer wrote: "torchscript", "zip" or "legacy", decided by the one reader of
// checkpoint formats. A TorchScript archive is what torch.load itself takes for one (a
// constants.pkl record), which the C++ jit mode needs; the worker is never asked. The file is
// in a directory the sandboxed producer could write, and this runs as root: a link it planted
// is never followed, and it is "legacy" like anything else that is not a zip.
std::string saved_format(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(std::filesystem::symlink_status(file, ec))) {
    return "legacy";
  }
  if (auto read = read_checkpoint_file(file)) {
    return read->format == CheckpointFormat::torchscript ? "torchscript"
           : read->format == CheckpointFormat::torch_zip ||
                   read->format == CheckpointFormat::torchscript_legacy
               ? "zip"
               : "legacy";
  }
  // A zip the reader refuses (no data.pkl) is still what torch.load takes for a zip.
  auto contents = FileContents::open(file);
  return contents && (*contents)->bytes().starts_with(std::string_view("PK\x03\x04", 4)) ? "zip"
                                                                                         : "legacy";
}

SessionOptions session_options(const Environment& env, const RunOptions& options) {
  return {options.out_dir / "logs" / (env.spec.name + ".worker.log"), options.cell_memory_bytes,
          options.cell_timeout};
}

} // namespace

EnvRun::EnvRun(const Environment& env, const RunPlan& plan, const RunOptions& options,
               ResultStore& store, ProcessRunner& runner, RunReport& report,
               std::mutex& report_mutex, const ProgressLog& log)
    : EnvRun(env, plan, options, store, runner, report, report_mutex, log,
             run_layout(env, plan, options)) {}

EnvRun::EnvRun(const Environment& env, const RunPlan& plan, const RunOptions& options,
               ResultStore& store, ProcessRunner& runner, RunReport& report,
               std::mutex& report_mutex, const ProgressLog& log, Layout layout)
    : env_(env), plan_(plan), options_(options), store_(store), runner_(runner), report_(report),
      report_mutex_(report_mutex), log_(log), checkpoints_root_(checkpoints_root(options)),
      session_(env, std::move(layout.layout), session_options(env, options)),
      checkpoints_(layout.checkpoints), scratch_(layout.scratch) {
  // Mount sources must exist before the worker starts, in whichever phase that is.
  make_sandbox_writable(options.out_dir / "scratch" / env.spec.name);
}

std::filesystem::path EnvRun::host_file(const std::string& producer,
                                        const std::string& case_name) const {
  return checkpoints_root_ / producer / (checkpoint_stem(case_name) + ".pt");
}

std::filesystem::path EnvRun::expectation_file(const std::string& producer,
                                               const std::string& case_name) const {
  return checkpoints_root_ / producer / (checkpoint_stem(case_name) + ".expect.json");
}

std::string EnvRun::inside_file(const std::string& producer, const std::string& case_name) const {
  return (checkpoints_.inside / producer / (checkpoint_stem(case_name) + ".pt")).string();
}

void EnvRun::save_all() {
  make_sandbox_writable(checkpoints_root_ / env_.spec.name);
  // Who made these files, for consumers and merges that never see this env.
  auto described =
      write_json_file(checkpoints_root_ / env_.spec.name / "env.json", env_summary(env_));
  if (!described) {
    throw FatalError(described.error());
  }
  size_t saved = 0;
  for (const auto& spec : plan_.cases) {
    if (spec.kind != CaseKind::recipe ||
        std::filesystem::exists(expectation_file(env_.spec.name, spec.name))) {
      continue;
    }
    // Whatever goes wrong saving one case is that case's: its load cells say why.
    Json reply;
    try {
      auto inside_case =
          session_.layout().inside(spec.root, std::filesystem::relative(spec.file, spec.root));
      reply = session_.call({{"op", "save"},
                             {"recipe", protocol_path(inside_case)},
                             {"out", protocol_path(inside_file(env_.spec.name, spec.name))}});
      if (reply.value("status", "") == "returned") {
        reply["format"] = saved_format(host_file(env_.spec.name, spec.name));
      }
    } catch (const std::exception& e) {
      reply = internal_error_facts(e);
    }
    Json expectation = {{"case", spec.name}, {"producer", env_.spec.name}, {"save", reply}};
    auto written = write_json_file(expectation_file(env_.spec.name, spec.name), expectation);
    if (!written) {
      log_(fmt::format("env {}: case {}: {}", env_.spec.name, spec.name, written.error().message));
      continue;
    }
    saved += reply.value("status", "") == "returned";
  }
  log_(fmt::format("env {}: saved {} checkpoint(s)", env_.spec.name, saved));
}

void EnvRun::load_all() {
  CppCells cpp_cells;
  size_t env_index = std::find(plan_.consumers.begin(), plan_.consumers.end(), env_.spec.name) -
                     plan_.consumers.begin();
  size_t total = plan_.consumers.size() * plan_.cases.size();
  auto mine = [&](size_t c) {
    return options_.shard.contains(env_index * plan_.cases.size() + c, total);
  };
  const std::vector<std::string> producers = plan_.producers_of(env_.spec.name);
  size_t planned = 0;
  for (size_t c = 0; c < plan_.cases.size(); ++c) {
    if (mine(c)) {
      planned += plan_.cases[c].kind == CaseKind::scenario ? 1 : producers.size();
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
    for (const auto& producer : producers) {
      load_file(spec, producer, cpp_cells);
      advance(1);
    }
  }
  for (const auto& [mode, cells] : cpp_cells) {
    run_cpp_cells(mode, cells);
  }
}

void EnvRun::check_portable(const BlockedFiles& blocked,
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
        Json facts = session_.call({{"op", "snippet"},
                                    {"source", snippet.source},
                                    {"file", protocol_path(inside_file(producer, case_name))}});
        check.verified = facts.value("status", "") == "returned";
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

Record EnvRun::base_record(const std::string& case_name, const std::string& producer,
                           LoaderMode mode) const {
  Record record;
  record.case_name = case_name;
  record.producer = producer;
  record.consumer = env_.spec.name;
  record.mode = mode;
  return record;
}

void EnvRun::commit(Record record) {
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
void EnvRun::place_blocked_globals(Record& record) {
  if (record.outcome != Outcome::blocked || record.blocked_globals.empty() ||
      record.mode == LoaderMode::scenario) {
    return;
  }
  auto file = host_file(record.producer, record.case_name);
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

bool EnvRun::wanted(LoaderMode mode) const {
  return options_.modes.empty() ||
         std::find(options_.modes.begin(), options_.modes.end(), mode) != options_.modes.end();
}

} // namespace loadmatrix
