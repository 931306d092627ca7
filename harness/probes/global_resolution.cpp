#include "probes/global_resolution.h"

#include "envs/sandbox.h"
#include "runtime/protocol.h"
#include "util/json_file.h"
#include "util/output_file.h"
#include "util/scratch_dir.h"
#include "util/text.h"
#include "util/utf8.h"

#include <algorithm>
#include <fmt/core.h>
#include <sstream>

namespace loadmatrix {

namespace {

constexpr const char* kCacheSchema = "loadmatrix.global-resolution/3";
// A name longer than this is neither asked about nor cached: a hostile file may name megabytes.
constexpr size_t kCachedNameLimit = 512;
// New globals asked about in one scan, per env: a file can name 100,000 distinct globals, and
// each costs an import and two crafted loads. The rest are predicted from the bytes alone.
constexpr size_t kMaxAsked = 20'000;

// The cache belongs to one build of the env: rebuilding it (a new `created`) or measuring it
// with another torch empties it.
std::string cache_identity(const Environment& env) {
  return fmt::format("{}|{}|{}|{}", env.spec.name, env.manifest.created, env.fingerprint().torch,
                     env.fingerprint().python);
}

void read_cache(const Environment& env, const std::filesystem::path& file, ResolvedGlobals& out) {
  std::error_code ec;
  if (file.empty() ||
      std::filesystem::symlink_status(file, ec).type() != std::filesystem::file_type::regular) {
    return;
  }
  auto document = read_json_file(file);
  if (!document || !document->is_object() || optional_string(*document, "schema") != kCacheSchema ||
      optional_string(*document, "env") != cache_identity(env) ||
      !(*document)["globals"].is_object()) {
    return; // another env build's, or unreadable: measured again
  }
  for (const auto& [key, value] : (*document)["globals"].items()) {
    if (value.is_object() && value["present"].is_boolean()) {
      out.by_key[key] = {value["present"].get<bool>(), optional_string(value, "error").value_or(""),
                         optional_string(value, "weights_only").value_or("")};
    }
  }
}

void write_cache(const Environment& env, const std::filesystem::path& file,
                 const ResolvedGlobals& cacheable) {
  if (file.empty() || cacheable.by_key.empty()) {
    return;
  }
  ResolvedGlobals merged;
  read_cache(env, file, merged);
  for (const auto& [key, resolution] : cacheable.by_key) {
    merged.by_key[key] = resolution;
  }
  Json globals = Json::object();
  for (const auto& [key, resolution] : merged.by_key) {
    globals[key] = {{"present", resolution.present},
                    {"error", resolution.error},
                    {"weights_only", resolution.weights_only}};
  }
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  // A cache that cannot be written costs the next scan time, not this one its results.
  (void)write_json_file(
      file,
      {{"schema", kCacheSchema}, {"env", cache_identity(env)}, {"globals", std::move(globals)}});
}

// The questions still to ask an env: what its cache did not answer.
struct Asked {
  std::vector<const GlobalLookup*> globals;
  std::vector<const SparseLookup*> sparse;
  std::vector<ArchiveQuestion> torchscript;

  bool empty() const { return globals.empty() && sparse.empty() && torchscript.empty(); }
};

// Each TorchScript import runs in a child the resolver waits for; past this it is killed.
constexpr int kArchiveSeconds = 60;

// The children the archives cost: one import each, and for a torch_load question two loads
// (bare and weights_only) besides.
size_t archive_children(const Asked& asked) {
  size_t children = 0;
  for (const auto& question : asked.torchscript) {
    children += question.torch_load ? 3 : 1;
  }
  return children;
}

// The request file resolve_globals.py reads, in `dir`, readable by the sandbox user (and only
// it of the directory's files); each archive's directory is mounted read-only and the request
// names the archive inside it.
Expected<std::vector<SandboxMount>> write_request(const Environment& env, const Asked& asked,
                                                  const std::filesystem::path& dir) {
  Json request = Json::array();
  for (const GlobalLookup* lookup : asked.globals) {
    request.push_back(
        {lookup->module, lookup->qualname, lookup->zip ? "zip" : "legacy", lookup->protocol});
  }
  Json sparse = Json::array();
  for (const SparseLookup* lookup : asked.sparse) {
    sparse.push_back({lookup->layout, lookup->fields});
  }
  std::vector<SandboxMount> archive_mounts;
  std::map<std::filesystem::path, size_t> archive_dirs;
  Json archives = Json::array();
  for (const auto& question : asked.torchscript) {
    const std::filesystem::path& archive = question.readable;
    auto [it, added] = archive_dirs.emplace(archive.parent_path(), archive_mounts.size());
    if (added) {
      archive_mounts.push_back(
          env.sandbox.place(archive.parent_path(), fmt::format("archives{}", it->second), false));
    }
    archives.push_back({{"path", (archive_mounts[it->second].inside / archive.filename()).string()},
                        {"torch_load", question.torch_load}});
  }
  std::filesystem::path request_file = dir / "request.json";
  if (auto written = write_output_file(
          request_file,
          dump_json({{"globals", request}, {"sparse", sparse}, {"torchscript", archives}}));
      !written) {
    return written.error();
  }
  // The resolver runs as the sandbox user: the request, and only it, is made readable.
  using std::filesystem::perms;
  std::error_code ec;
  std::filesystem::permissions(dir,
                               perms::owner_all | perms::others_read | perms::others_exec |
                                   perms::group_read | perms::group_exec,
                               ec);
  if (!ec) {
    std::filesystem::permissions(request_file,
                                 perms::owner_read | perms::group_read | perms::others_read, ec);
  }
  if (ec) {
    return Error{fmt::format("{}: {}", dir.string(), ec.message())};
  }
  return archive_mounts;
}

SandboxCommand resolver_command(const Environment& env, const Asked& asked,
                                const ResolveOptions& options, const std::filesystem::path& dir,
                                const std::vector<SandboxMount>& archive_mounts) {
  SandboxMount runtime = env.sandbox.place(env.shipped.runtime_dir, "runtime", false);
  SandboxMount work = env.sandbox.place(dir, "globals", false);
  SandboxCommand command;
  command.mounts = {runtime, work};
  command.mounts.insert(command.mounts.end(), archive_mounts.begin(), archive_mounts.end());
  std::vector<std::string> python_path;
  for (size_t i = 0; i < options.python_path.size(); ++i) {
    SandboxMount mount =
        env.sandbox.place(options.python_path[i], fmt::format("pythonpath{}", i), false);
    python_path.push_back(mount.inside.string());
    command.mounts.push_back(mount);
  }
  command.env = {"PYTHONPATH=" + join(python_path, ":")};
  command.argv = {env.python, (runtime.inside / "resolve_globals.py").string(),
                  (work.inside / "request.json").string()};
  // Importing torch, then each module once (resolve_globals.py stops one import at 20 s);
  // answers come one line each, so a run cut short keeps the ones it gave.
  command.timeout = std::min<std::chrono::milliseconds>(
      std::chrono::seconds(90) + std::chrono::milliseconds(500) * asked.globals.size() +
          std::chrono::seconds(1) * asked.sparse.size() +
          std::chrono::seconds(kArchiveSeconds + 5) * archive_children(asked),
      std::chrono::minutes(30));
  command.output_limit =
      (1u << 20) + (asked.globals.size() + asked.sparse.size() + asked.torchscript.size()) * 4096;
  return command;
}

// The resolver's answers, each in its question's place: its kind's key holds its index.
struct Answers {
  std::vector<Json> globals;
  std::vector<Json> sparse;
  std::vector<Json> torchscript;
  bool done = false; // the resolver reached its end
};

Answers read_answers(const Asked& asked, const std::string& stdout_text,
                     const std::string& origin) {
  Answers answers{std::vector<Json>(asked.globals.size()), std::vector<Json>(asked.sparse.size()),
                  std::vector<Json>(asked.torchscript.size())};
  auto place = [](Json& answer, const char* key, std::vector<Json>& into) {
    const Json& index = answer[key];
    if (index.is_number_unsigned() && index.get<size_t>() < into.size()) {
      into[index.get<size_t>()] = std::move(answer);
    }
  };
  for (auto& answer : protocol_messages(stdout_text, origin)) {
    if (!answer || !answer->is_object()) {
      continue;
    }
    answers.done = answers.done || answer->contains("done");
    if (answer->contains("sparse")) {
      place(*answer, "sparse", answers.sparse);
    } else if (answer->contains("torchscript")) {
      place(*answer, "torchscript", answers.torchscript);
    } else {
      place(*answer, "index", answers.globals);
    }
  }
  return answers;
}

// Fills `out` from `answers` and returns the answers about what the env provides itself.
ResolvedGlobals record_answers(const Asked& asked, Answers& answers, ResolvedGlobals& out) {
  ResolvedGlobals cacheable;
  for (size_t i = 0; i < asked.globals.size(); ++i) {
    const Json& answer = answers.globals[i];
    if (!answer.is_object() || !answer["present"].is_boolean()) {
      continue;
    }
    GlobalResolution resolution{answer["present"].get<bool>(),
                                valid_utf8(optional_string(answer, "error").value_or("")),
                                valid_utf8(optional_string(answer, "weights_only").value_or(""))};
    std::string key = asked.globals[i]->key();
    // Only what the env itself provides is cached: a --python-path module may change, and a
    // module nothing provides costs nothing to ask about again.
    // A `__main__` global is resolved against an empty `__main__`: the env's answer, every time.
    std::optional<std::string> origin = optional_string(answer, "origin");
    bool env_provided = origin == "env" || origin == "main";
    bool timed_out = resolution.error.starts_with("TimeoutError");
    if (env_provided && !timed_out && key.size() <= kCachedNameLimit) {
      cacheable.by_key[key] = resolution;
    }
    out.by_key[std::move(key)] = std::move(resolution);
  }
  for (size_t i = 0; i < asked.sparse.size(); ++i) {
    Json& answer = answers.sparse[i];
    if (answer.is_object() && answer["accepted"].is_boolean()) {
      GlobalResolution resolution{answer["accepted"].get<bool>(),
                                  valid_utf8(optional_string(answer, "error").value_or("")), ""};
      cacheable.by_key[asked.sparse[i]->key()] = resolution;
      out.by_key[asked.sparse[i]->key()] = std::move(resolution);
    }
  }
  for (size_t i = 0; i < asked.torchscript.size(); ++i) {
    Json& answer = answers.torchscript[i];
    std::optional<std::string> said = optional_string(answer, "result");
    ArchiveImport import;
    import.error = valid_utf8(optional_string(answer, "error").value_or(""));
    if (said == "pass") {
      import.result = ArchiveImport::Result::pass;
    } else if (said == "error") {
      import.result = ArchiveImport::Result::error;
    } else if (said == "crash") {
      import.result = ArchiveImport::Result::crash;
    } else {
      continue; // not answered: unmeasured
    }
    import.whole = asked.torchscript[i].whole;
    if (auto loads = answer.find("loads"); loads != answer.end() && loads->is_object()) {
      for (const auto& [mode, facts] : loads->items()) {
        if (facts.is_object() && (mode == "default" || mode == "weights_only")) {
          import.loads[mode] = facts;
        }
      }
    }
    out.torchscript[asked.torchscript[i].file] = std::move(import);
  }
  return cacheable;
}

// Runs resolve_globals.py over `asked`; fills `out` and returns the answers about what the env
// provides itself (cacheable).
ResolvedGlobals run_resolver(const Environment& env, ProcessRunner& runner, const Asked& asked,
                             const ResolveOptions& options, ResolvedGlobals& out) {
  auto scratch = ScratchDir::create("loadmatrix-globals");
  if (!scratch) {
    out.error = scratch.error().message;
    return {};
  }
  auto archive_mounts = write_request(env, asked, scratch->path());
  if (!archive_mounts) {
    out.error = archive_mounts.error().message;
    return {};
  }
  ProcessResult result = env.sandbox.run(
      runner, resolver_command(env, asked, options, scratch->path(), *archive_mounts));
  std::string origin = fmt::format("env {}: resolve_globals.py", env.spec.name);
  Answers answers = read_answers(asked, result.stdout_text, origin);
  if (!answers.done) {
    out.error = fmt::format("{}: stopped before the end ({}): {}", origin, result.describe(),
                            last_lines(result.stderr_text, 4));
  }
  return record_answers(asked, answers, out);
}

// Globals left unmeasured (their prediction is the bytes' alone): names too long to be a real
// class (a hostile file's), copyreg's extension codes (not names: no module to import), and
// anything under a package's __main__ module, whose import runs a program. A top-level
// `__main__` (a class the saving script defined) is asked: the resolver looks it up in an empty
// `__main__`, as a loading program's own is not the saver's, and imports nothing.
bool worth_asking(const GlobalLookup& lookup) {
  if (lookup.module.size() + lookup.qualname.size() > kCachedNameLimit ||
      (lookup.module == "copyreg" && lookup.qualname.starts_with("extension_registry["))) {
    return false;
  }
  std::string_view module = lookup.module;
  size_t first_dot = module.find('.');
  for (size_t start = first_dot == std::string_view::npos ? module.size() + 1 : first_dot + 1;
       start <= module.size();) {
    size_t end = std::min(module.find('.', start), module.size());
    if (module.substr(start, end - start) == "__main__") {
      return false;
    }
    start = end + 1;
  }
  return true;
}

// Whether a --python-path directory provides `module`'s top-level package, which Python finds
// before the env's own: a cached answer about the env's module does not hold then.
} // namespace

bool provided_by_python_path(const std::string& module,
                             const std::vector<std::filesystem::path>& python_path) {
  std::string top = module.substr(0, module.find('.'));
  std::error_code ec;
  for (const auto& dir : python_path) {
    if (std::filesystem::exists(dir / top, ec) ||
        std::filesystem::exists(dir / (top + ".py"), ec)) {
      return true;
    }
  }
  return false;
}

std::string GlobalLookup::key() const {
  return fmt::format("{}|{}|{}|{}", zip ? "zip" : "legacy", protocol, module, qualname);
}

std::string SparseLookup::key() const {
  return fmt::format("sparse|{}|{}", layout, fields);
}

const GlobalResolution* ResolvedGlobals::find_key(const std::string& key) const {
  auto it = by_key.find(key);
  return it == by_key.end() ? nullptr : &it->second;
}

const ArchiveImport* ResolvedGlobals::find(const std::filesystem::path& archive) const {
  auto it = torchscript.find(archive);
  return it == torchscript.end() ? nullptr : &it->second;
}

ResolvedGlobals resolve_globals(const Environment& env, ProcessRunner& runner,
                                const EnvQuestions& questions, const ResolveOptions& options) {
  ResolvedGlobals out;
  read_cache(env, options.cache_file, out);
  Asked asked;
  std::map<std::string, bool, std::less<>> seen;
  for (const auto& lookup : questions.globals) {
    if (!worth_asking(lookup)) {
      continue;
    }
    std::string key = lookup.key();
    bool cached =
        out.by_key.contains(key) && !provided_by_python_path(lookup.module, options.python_path);
    if (!cached && seen.emplace(key, true).second) {
      out.by_key.erase(key);
      asked.globals.push_back(&lookup);
    }
  }
  if (asked.globals.size() > kMaxAsked) {
    out.error = fmt::format("{} globals not resolved: more than {} new ones in one scan",
                            asked.globals.size() - kMaxAsked, kMaxAsked);
    asked.globals.resize(kMaxAsked);
  }
  for (const auto& lookup : questions.sparse) {
    std::string key = lookup.key();
    if (lookup.layout.size() <= kCachedNameLimit && !out.by_key.contains(key) &&
        seen.emplace(key, true).second) {
      asked.sparse.push_back(&lookup);
    }
  }
  asked.torchscript = questions.torchscript;
  if (asked.empty()) {
    return out;
  }
  ResolvedGlobals cacheable = run_resolver(env, runner, asked, options, out);
  write_cache(env, options.cache_file, cacheable);
  return out;
}

ResolvedGlobals resolve_globals(const Environment& env, ProcessRunner& runner,
                                const std::vector<GlobalLookup>& lookups,
                                const ResolveOptions& options) {
  EnvQuestions questions;
  questions.globals = lookups;
  return resolve_globals(env, runner, questions, options);
}

} // namespace loadmatrix
