#include "scan/scan_job.h"

#include "envs/environment.h"
#include "matrix/matrix.h"
#include "pickle/object_paths.h"
#include "probes/env_facts.h"
#include "records/result_store.h"
#include "scan/scan_publish.h"
#include "scan/scan_verify.h"
#include "scan/torchscript_skeleton.h"
#include "util/output_file.h"
#include "util/parallel.h"
#include "util/scratch_dir.h"
#include "util/text.h"
#include "util/utf8.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fmt/core.h>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace loadmatrix {

namespace {

constexpr size_t kMaxArchives = 100;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The static pass over one file: what it holds.
ScannedFile scan_statically(InputFile input) {
  bool examined = input.error.empty();
  ScannedFile file;
  file.scan = scan_file(std::move(input));
  file.loadable = file.scan.status == FileStatus::checkpoint ||
                  (file.scan.status == FileStatus::error && examined);
  return file;
}

// Per env and mode, what a load of `file` would do.
void predict_cells(ScannedFile& file, const std::vector<Environment>& envs,
                   const std::vector<EnvLoadRules>& rules) {
  if (!file.loadable) {
    return;
  }
  file.cells.reserve(envs.size() * 2);
  for (size_t env_index = 0; env_index < envs.size(); ++env_index) {
    const Environment& env = envs[env_index];
    for (ScanMode mode : {ScanMode::weights_only, ScanMode::version_default}) {
      ScanCell cell;
      cell.env = env.spec.name;
      cell.mode = mode;
      if (file.scan.status == FileStatus::checkpoint) {
        // Where a bare torch.load is weights_only, its prediction is the weights_only one.
        bool same_as_weights_only = mode == ScanMode::version_default &&
                                    env.fingerprint().has_weights_only &&
                                    env.fingerprint().weights_only_default.value_or(false);
        try {
          cell.predicted = same_as_weights_only ? file.cells.back().predicted
                                                : predict_load(file.scan, rules[env_index], mode);
        } catch (const std::exception& e) {
          // A fault of the predictor's own is this cell's, never the scan's end.
          cell.predicted = LoadPrediction{};
          cell.predicted->outcome = Outcome::error;
          cell.predicted->detail = "internal error predicting this load: " + valid_utf8(e.what());
        }
        if (cell.predicted->outcome == Outcome::blocked) {
          ScanFix fix;
          fix.allowlist = cell.predicted->fix_allowlist;
          std::string predicted = env.runs_here()
                                      ? "predicted; not verified (nothing was loaded)"
                                      : fmt::format("predicted from torch {}'s measured facts; not "
                                                    "loaded here",
                                                    env.fingerprint().torch);
          fix.note = cell.predicted->fixable ? predicted
                                             : "no safe allowlist: " + cell.predicted->no_fix +
                                                   "; weights_only=False only for files you trust";
          cell.fix = fix;
        }
      }
      file.cells.push_back(std::move(cell));
    }
  }
}

// Where each global of a file with a blocked or dangerous one sits in the saved object: a
// second walk, only for those files, so a clean corpus costs nothing more.
void place_globals(ScannedFile& file, const ProgressLog& log) {
  if (file.scan.status != FileStatus::checkpoint || file.scan.is_archive()) {
    return;
  }
  bool needed = !file.scan.dangerous.empty();
  for (const auto& cell : file.cells) {
    needed = needed || !cell.blocked_globals().empty();
  }
  if (!needed) {
    return;
  }
  auto paths = checkpoint_object_paths(file.scan.input.file);
  if (!paths) {
    log(fmt::format("{}: where its globals sit is not shown: {}", file.scan.input.display,
                    valid_utf8(paths.error().message)));
    return;
  }
  for (auto& [name, path] : *paths) {
    file.object_paths.emplace(printable_name(name), valid_utf8(path));
  }
}

// A scratch directory the sandbox user can read, for the skeletons of the scan's archives (of
// files it can already read, so nothing is disclosed); none when the scan has none.
std::optional<ScratchDir> archive_dir(const std::vector<ScannedFile>& files,
                                      const ProgressLog& log) {
  bool any = std::any_of(files.begin(), files.end(), [](const ScannedFile& file) {
    return file.scan.status == FileStatus::checkpoint && file.scan.is_archive();
  });
  if (!any) {
    return std::nullopt;
  }
  auto dir = ScratchDir::create("loadmatrix-archives");
  std::error_code ec;
  if (dir) {
    using std::filesystem::perms;
    std::filesystem::permissions(dir->path(),
                                 perms::owner_all | perms::group_read | perms::group_exec |
                                     perms::others_read | perms::others_exec,
                                 ec);
  }
  if (!dir || ec) {
    log(fmt::format("TorchScript archives are predicted without asking the envs: {}",
                    dir ? ec.message() : dir.error().message));
    return std::nullopt;
  }
  return std::move(*dir);
}

} // namespace

// What the envs are asked about the files: every global their loads would resolve and every
// sparse layout they rebuild, once each (TorchScript archives are read by torch.jit.load, not
// the unpickler: each is asked about whole, as a skeleton in `archives`, when given). Only an
// archive the sandbox user can already read is copied there: a skeleton must not let another
// local user read what its original kept from them. At most kMaxArchives are asked.

EnvQuestions questions_of(const std::vector<ScannedFile>& files, const ScratchDir* archives,
                          const ProgressLog& log) {
  EnvQuestions questions;
  std::set<std::string> seen;
  size_t unasked = 0;
  for (const auto& file : files) {
    if (file.scan.status != FileStatus::checkpoint) {
      continue;
    }
    if (file.scan.is_archive()) {
      if (!archives) {
        continue;
      }
      if (!readable_by_sandbox_user(file.scan.input.root, file.scan.input.relative) ||
          questions.torchscript.size() >= kMaxArchives) {
        ++unasked;
        continue;
      }
      auto skeleton = archives->path() / fmt::format("{}.pt", questions.torchscript.size());
      auto written = write_torchscript_skeleton(file.scan.input.file, skeleton);
      std::error_code ec = written ? make_sandbox_readable_only(skeleton) : std::error_code();
      if (!written || ec) {
        log(fmt::format("{}: not asked whether each env's torch.jit.load reads it: {}",
                        file.scan.input.display,
                        written ? ec.message() : valid_utf8(written.error().message)));
        continue;
      }
      questions.torchscript.push_back({file.scan.input.file, skeleton, false,
                                       file.scan.format == CheckpointFormat::torchscript_legacy});
      continue;
    }
    for (const auto& global : file.scan.globals) {
      GlobalLookup lookup = global_lookup(file.scan, global);
      if (seen.insert(lookup.key()).second) {
        questions.globals.push_back(std::move(lookup));
      }
    }
    for (const auto& rebuild : file.scan.sparse_rebuilds) {
      SparseLookup lookup{rebuild.layout, rebuild.fields};
      if (seen.insert(lookup.key()).second) {
        questions.sparse.push_back(std::move(lookup));
      }
    }
  }
  if (unasked > 0) {
    log(fmt::format("{} TorchScript archive(s) predicted without asking the envs (the sandbox "
                    "user cannot read them, or more than {} in one scan)",
                    unasked, kMaxArchives));
  }
  return questions;
}

namespace {

// A skeleton stands in for its archive when it imports: emptied storages cannot make a failing
// import pass. When it does not, the emptiness may be why (an int8 TorchScript model's packed
// parameters are rebuilt from their data at import: its skeleton kills 2.6 with SIGSEGV where
// the archive imports, measured), so each such archive up to this size is asked again whole;
// a larger one is not predicted (scan/load_prediction.h).
constexpr uintmax_t kWholeArchiveBytes = 256u << 20;
// And at most this much in all, per scan: the copies are in the temporary directory.
constexpr uintmax_t kWholeArchivesTotalBytes = 2ull << 30;

// `source` copied to `copy` through one descriptor, never through a symlink, refused unless it
// is a regular file of at most `max_bytes` the sandbox user may read (root: world-readable,
// checked on the open file, not on a path that may have changed since the scan read it).
Expected<uintmax_t> copy_whole_archive(const std::filesystem::path& source,
                                       const std::filesystem::path& copy, uintmax_t max_bytes) {
  int in = ::open(source.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (in < 0) {
    return Error{fmt::format("{}: {}", source.string(), std::strerror(errno))};
  }
  struct stat info {};
  std::string refused;
  if (::fstat(in, &info) != 0 || !S_ISREG(info.st_mode)) {
    refused = "not a regular file";
  } else if (static_cast<uintmax_t>(info.st_size) > max_bytes) {
    refused = fmt::format("{} bytes, over the budget of asking it whole", info.st_size);
  } else if (!sandbox_is_rootless() && !(info.st_mode & S_IROTH)) {
    refused = "the sandbox user may not read it";
  }
  int out =
      refused.empty() ? ::open(copy.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400) : -1;
  if (refused.empty() && out < 0) {
    refused = std::strerror(errno);
  }
  std::vector<char> buffer(1 << 20);
  uintmax_t copied = 0;
  while (refused.empty()) {
    ssize_t got = ::read(in, buffer.data(), buffer.size());
    if (got <= 0) {
      refused = got < 0 ? std::strerror(errno) : "";
      break;
    }
    if (auto written = write_all(out, std::string_view(buffer.data(), static_cast<size_t>(got)),
                                 copy.string());
        !written) {
      refused = written.error().message;
      break;
    }
    copied += static_cast<uintmax_t>(got);
  }
  ::close(in);
  if (out >= 0) {
    ::close(out);
  }
  if (refused.empty()) {
    if (std::error_code ec = make_sandbox_readable_only(copy)) {
      refused = ec.message();
    }
  }
  if (!refused.empty()) {
    return Error{fmt::format("{}: {}", source.string(), refused)};
  }
  return copied;
}

// Asks again, with the whole archive, whatever an env's skeleton did not import. The copy is
// made once, in the scan's archive directory, and only of archives the sandbox user can read.
void ask_whole_archives(const EnvQuestions& questions, const ScratchDir& archives,
                        const std::vector<Environment>& envs, const ScanRequest& request,
                        std::vector<ResolvedGlobals>& resolved, const ProgressLog& log) {
  std::map<std::filesystem::path, ArchiveQuestion> whole;
  std::set<std::filesystem::path> asked_whole;
  uintmax_t total = 0;
  for (size_t i = 0; i < envs.size(); ++i) {
    if (!envs[i].runs_here()) {
      continue;
    }
    for (const auto& question : questions.torchscript) {
      const ArchiveImport* answer = resolved[i].find(question.file);
      if (!answer || answer->result == ArchiveImport::Result::pass ||
          !asked_whole.insert(question.file).second) {
        continue;
      }
      auto copy = archives.path() / fmt::format("whole-{}.pt", whole.size());
      auto copied = copy_whole_archive(
          question.file, copy, std::min(kWholeArchiveBytes, kWholeArchivesTotalBytes - total));
      if (!copied) {
        log(fmt::format("{}: not asked again whole, so not predicted where its skeleton does "
                        "not import: {}",
                        question.file.string(), valid_utf8(copied.error().message)));
        continue;
      }
      total += *copied;
      // Asked again about torch.jit.load only: what torch.load said of a 1.0-1.2 archive came
      // from its skeleton, which holds no member torch.load could unpickle (it fails before
      // reading any data), and stays.
      whole[question.file] = {question.file, copy, true, false};
    }
  }
  if (whole.empty()) {
    return;
  }
  for_each_index(envs.size(), 0, [&](size_t i) {
    if (!envs[i].runs_here()) {
      return;
    }
    EnvQuestions again;
    for (const auto& [file, question] : whole) {
      const ArchiveImport* answer = resolved[i].find(file);
      if (answer && answer->result != ArchiveImport::Result::pass) {
        again.torchscript.push_back(question);
      }
    }
    if (again.torchscript.empty()) {
      return;
    }
    SystemProcessRunner runner;
    ResolveOptions options;
    options.python_path = request.verify_options.python_path;
    ResolvedGlobals answers = resolve_globals(envs[i], runner, again, options);
    if (!answers.error.empty()) {
      log(fmt::format("env {}: archives asked again whole: {}", envs[i].spec.name, answers.error));
    }
    for (auto& [file, import] : answers.torchscript) {
      ArchiveImport& kept = resolved[i].torchscript[file];
      import.loads = std::move(kept.loads);
      kept = std::move(import);
    }
  });
  log(fmt::format("{} TorchScript archive(s) asked again whole: their skeleton did not import "
                  "in some env",
                  whole.size()));
}

} // namespace

ScanJobResult scan_job(ScanJobRequest request, ProcessRunner& runner, const ProgressLog& log,
                       JobOutput& output) {
  PreparedEnvs selection = prepare_envs(load_matrix(request.matrix).select_envs(request.envs),
                                        request.preparation, runner, log);
  ScanJobResult job;
  request.scan.envs = std::move(selection.envs);
  job.missing = std::move(selection.missing);
  for (const auto& [name, answers] : selection.facts_globals) {
    request.scan.facts_answers[name] =
        facts_answers(answers, request.scan.verify_options.python_path);
  }
  request.scan.env_dir = request.preparation.env_dir;
  if (request.scan.envs.empty() && !job.missing.empty()) {
    log("no env is provisioned and no facts were found for them: the files are analysed, but "
        "nothing is predicted or loaded (--provision builds the envs)");
  }
  for (const auto& dir : request.scan.verify_options.python_path) {
    if (!std::filesystem::is_directory(dir)) {
      throw FatalError(fmt::format("--python-path {}: not a directory", dir.string()));
    }
  }
  job.result = run_scan(request.scan, log);
  job.envs = std::move(request.scan.envs);
  job.status = publish_scan(job, request, output);
  return job;
}

std::vector<ScannedFile> static_pass(const std::vector<std::filesystem::path>& paths, size_t jobs) {
  std::vector<InputFile> inputs = collect_input_files(paths);
  std::vector<ScannedFile> files(inputs.size());
  for_each_index(inputs.size(), jobs,
                 [&](size_t i) { files[i] = scan_statically(std::move(inputs[i])); });
  return files;
}

ScanResult run_scan(const ScanRequest& request, const ProgressLog& log) {
  ScanResult result;
  for (const auto& env : request.envs) {
    result.envs.push_back(env_summary(env));
  }
  auto started = Clock::now();
  // Files are independent and reading one is mostly waiting on the kernel: the static pass
  // runs on every core, each file's result in its input's place, so the order is the inputs'.
  std::vector<EnvLoadRules> rules;
  for (const auto& env : request.envs) {
    rules.emplace_back(env.fingerprint());
  }
  result.files = static_pass(request.paths, request.static_jobs);
  result.static_seconds = seconds_since(started);
  log(fmt::format("static pass: {} file(s) in {:.3f} s", result.files.size(),
                  result.static_seconds));
  // Whether each env has what the files name: one sandboxed process per env, at once.
  // Importing an archive is a load: not under --static-only.
  std::vector<Environment> live;
  for (const auto& env : request.envs) {
    if (env.runs_here()) {
      live.push_back(env);
    }
  }
  std::optional<ScratchDir> archives = request.resolve_globals && request.verify && !live.empty()
                                           ? archive_dir(result.files, log)
                                           : std::nullopt;
  EnvQuestions questions = questions_of(result.files, archives ? &*archives : nullptr, log);
  std::vector<ResolvedGlobals> resolved(request.envs.size());
  bool any_question =
      !questions.globals.empty() || !questions.sparse.empty() || !questions.torchscript.empty();
  if (request.resolve_globals && any_question) {
    started = Clock::now();
    for_each_index(request.envs.size(), 0, [&](size_t i) {
      if (!request.envs[i].runs_here()) {
        auto answers = request.facts_answers.find(request.envs[i].spec.name);
        if (answers != request.facts_answers.end()) {
          resolved[i] = answers->second;
        }
        return;
      }
      SystemProcessRunner runner;
      ResolveOptions options;
      options.python_path = request.verify_options.python_path;
      if (!request.env_dir.empty()) {
        options.cache_file = EnvCache(request.env_dir).globals_cache(request.envs[i].spec.name);
      }
      resolved[i] = resolve_globals(request.envs[i], runner, questions, options);
      if (!resolved[i].error.empty()) {
        log(fmt::format("env {}: globals not resolved, predicted without them: {}",
                        request.envs[i].spec.name, resolved[i].error));
      }
    });
    if (archives && !questions.torchscript.empty()) {
      ask_whole_archives(questions, *archives, request.envs, request, resolved, log);
    }
    result.resolve_seconds = seconds_since(started);
    log(fmt::format("globals: {} resolved, {} sparse layout(s) and {} TorchScript archive(s) "
                    "asked, in {} env(s) in {:.2f} s{}",
                    questions.globals.size(), questions.sparse.size(), questions.torchscript.size(),
                    live.size(), result.resolve_seconds,
                    live.size() < request.envs.size()
                        ? fmt::format("; {} env(s) answered from their measured facts",
                                      request.envs.size() - live.size())
                        : ""));
  }
  for (size_t i = 0; i < rules.size(); ++i) {
    rules[i].resolved = &resolved[i];
  }
  for_each_index(result.files.size(), request.static_jobs,
                 [&](size_t i) { predict_cells(result.files[i], request.envs, rules); });
  if (request.verify && !live.empty()) {
    started = Clock::now();
    verify_scan(result.files, live, request.verify_options, log);
    result.verify_seconds = seconds_since(started);
    result.verified = true;
    result.trusted = request.verify_options.trust;
  }
  for_each_index(result.files.size(), request.static_jobs,
                 [&](size_t i) { place_globals(result.files[i], log); });
  return result;
}

namespace {

// A scan cell as a run's record: what was observed, else what was predicted.
Record record_of(const std::string& file, const ScanCell& cell,
                 const std::map<std::string, std::string>& object_paths) {
  Record record;
  record.case_name = file;
  record.producer = "file";
  record.consumer = cell.env;
  record.mode = scan_loader_mode(cell.mode);
  if (const ObservedLoad* load = cell.loaded()) {
    const ObservedLoad& o = *load;
    record.outcome = o.outcome;
    record.reason = o.reason;
    record.blocked_globals = o.blocked_globals;
    record.error_type = o.error_type;
    record.message = o.message;
    record.detail = o.detail;
    record.duration_ms = o.duration_ms;
  } else if (cell.predicted) {
    const LoadPrediction& p = *cell.predicted;
    record.outcome = p.outcome;
    record.reason = p.reason;
    record.blocked_globals = p.blocked_globals;
    record.detail =
        "predicted: " + p.detail + (cell.observed ? " (" + cell.observed->detail + ")" : "");
  } else {
    record.outcome = Outcome::skipped;
    record.detail = cell.observed ? cell.observed->detail : "neither read nor loaded";
  }
  for (const auto& global : record.blocked_globals) {
    if (const std::string* path = object_path_for(object_paths, global)) {
      record.object_paths[global] = *path;
    }
  }
  return record;
}

} // namespace

std::pair<Json, std::vector<Record>> scan_as_results(const ScanResult& result) {
  std::vector<Record> records;
  Json cases = Json::array();
  Json disagreements = Json::array();
  Json dangerous = Json::array();
  for (const auto& file : result.files) {
    const FileScan& scan = file.scan;
    std::string note = fmt::format("{}: {}", scan.format ? scan.format_id() : "?",
                                   file_verdict_id(file.verdict()));
    if (!scan.dangerous.empty()) {
      note += " (" + join(scan.dangerous, ", ") + ")";
    }
    if (!scan.error.empty()) {
      note += ": " + scan.error;
    }
    cases.push_back({{"name", scan.input.display}, {"kind", "file"}, {"note", note}});
    if (!scan.dangerous.empty()) {
      dangerous.push_back({{"file", scan.input.display}, {"globals", scan.dangerous}});
    }
    for (const auto& cell : file.cells) {
      Record record = record_of(scan.input.display, cell, file.object_paths);
      records.push_back(record);
      if (cell.fix && cell.mode == ScanMode::weights_only) {
        Record fix = record;
        fix.mode = LoaderMode::allowlist;
        // A fix nothing loaded (an env answered from facts, --static-only) is a prediction:
        // recorded as not run, not as an allowlist that failed.
        fix.outcome = cell.fix->verified ? Outcome::pass
                      : cell.loaded()    ? record.outcome
                                         : Outcome::skipped;
        fix.allowlist = cell.fix->allowlist;
        fix.detail = cell.fix->note;
        records.push_back(fix);
      }
      if (cell.agrees() == false) {
        disagreements.push_back(
            {{"file", scan.input.display},
             {"env", cell.env},
             {"mode", scan_mode_id(cell.mode)},
             {"predicted", outcome_id(cell.predicted->outcome)},
             {"predicted_globals", cell.predicted->blocked_globals},
             {"predicted_detail", cell.predicted->detail},
             {"observed", outcome_id(cell.observed->outcome)},
             {"observed_globals", cell.observed->blocked_globals},
             {"observed_detail", cell.observed->error_type + ": " + cell.observed->message}});
      }
    }
  }
  Json header = {{"envs", result.envs},
                 {"cases", cases},
                 {"modes", Json::array({loader_mode_id(LoaderMode::default_load),
                                        loader_mode_id(LoaderMode::weights_only),
                                        loader_mode_id(LoaderMode::allowlist)})},
                 {"scan",
                  {{"files", result.files.size()},
                   {"verified", result.verified},
                   {"agree", result.agreement().agree},
                   {"dangerous", dangerous},
                   {"disagreements", disagreements}}}};
  return {header, records};
}

std::pair<Json, std::vector<Record>> write_scan_results(const ScanResult& result,
                                                        const std::filesystem::path& out_dir) {
  auto results = scan_as_results(result);
  auto store = ResultStore::open(out_dir, RunStart::kFresh, results.first).value_or_throw();
  for (const auto& record : results.second) {
    store->append(record).value_or_throw();
  }
  store->write_results().value_or_throw();
  return results;
}

} // namespace loadmatrix
