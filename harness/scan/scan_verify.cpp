#include "scan/scan_verify.h"

#include "envs/sandbox.h"
#include "session/load_session.h"
#include "util/parallel.h"
#include "util/text.h"
#include "util/utf8.h"

#include <algorithm>
#include <fmt/core.h>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace loadmatrix {

bool readable_by_sandbox_user(const std::filesystem::path& root,
                              const std::filesystem::path& relative) {
  // Rootless, the command runs with our own kernel uid and groups (envs/sandbox.h): what we may
  // read, it may.
  if (sandbox_is_rootless()) {
    return ::access((root / relative).c_str(), R_OK) == 0;
  }
  auto path = root;
  struct stat info;
  if (::stat(path.c_str(), &info) != 0 || !(info.st_mode & S_IXOTH)) {
    return false;
  }
  for (const auto& part : relative) {
    path /= part;
    if (::stat(path.c_str(), &info) != 0) {
      return false;
    }
    bool last = path == root / relative;
    if (!(info.st_mode & (last ? S_IROTH : S_IXOTH))) {
      return false;
    }
  }
  return true;
}

namespace {

bool same_set(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return std::set<std::string>(a.begin(), a.end()) == std::set<std::string>(b.begin(), b.end());
}

// One env's side of the scan.
class EnvVerifier {
public:
  EnvVerifier(const Environment& env, const std::vector<std::filesystem::path>& roots,
              const VerifyOptions& options)
      : env_(env), options_(options),
        session_(env, layout(env, roots, options),
                 {options.log_dir / (env.spec.name + ".scan-worker.log"), options.load_memory_bytes,
                  options.load_timeout}) {}

  Expected<void> start() { return session_.start(); }

  void verify(ScannedFile& file) {
    for (auto& cell : file.cells) {
      if (cell.env != env_.spec.name) {
        continue;
      }
      // A fault while loading one file in one env is that cell's error, never the scan's end.
      try {
        verify_cell(file, cell);
      } catch (const std::exception& e) {
        ObservedLoad failed;
        failed.outcome = Outcome::error;
        failed.error_type = "loadmatrix";
        failed.message = "internal error verifying this file: " + valid_utf8(e.what());
        cell.observed = std::move(failed);
      }
    }
  }

private:
  // Each directory the files were found under appears read-only at /loadmatrix/scanN.
  static SandboxLayout layout(const Environment& env,
                              const std::vector<std::filesystem::path>& roots,
                              const VerifyOptions& options) {
    SandboxLayout layout(env.sandbox);
    for (size_t i = 0; i < roots.size(); ++i) {
      layout.add(roots[i], fmt::format("scan{}", i), false);
    }
    for (size_t i = 0; i < options.python_path.size(); ++i) {
      layout.add(options.python_path[i], fmt::format("pythonpath{}", i), false, true);
    }
    return layout;
  }

  std::string inside(const FileScan& scan) const {
    return session_.layout().inside(scan.input.root, scan.input.relative).string();
  }

  void verify_cell(const ScannedFile& file, ScanCell& cell) {
    const Fingerprint& fp = env_.fingerprint();
    ObservedLoad observed;
    bool full_unpickler =
        cell.mode == ScanMode::version_default && !fp.weights_only_default.value_or(false);
    if (!readable_by_sandbox_user(file.scan.input.root, file.scan.input.relative)) {
      observed.outcome = Outcome::skipped;
      observed.detail = "not loaded: the sandbox user (nobody) cannot read it; make it and its "
                        "directories world-readable, or scan a readable copy";
      cell.observed = observed;
      return;
    }
    if (full_unpickler && !options_.trust) {
      observed.outcome = Outcome::skipped;
      observed.detail = "not loaded: a bare torch.load here is the full unpickler, which runs "
                        "whatever the file names; --trust loads it (in the sandbox)";
      cell.observed = observed;
      return;
    }
    std::string path = inside(file.scan);
    Json facts = session_.load(path, scan_loader_mode(cell.mode));
    Classification c = classify(facts, nullptr);
    observed.outcome = c.outcome;
    observed.reason = c.refusal.reason;
    observed.blocked_globals = c.refusal.globals;
    observed.error_type = c.error_type;
    observed.message = c.message;
    observed.detail = c.detail;
    observed.duration_ms = facts.value("duration_ms", 0LL);
    if (c.outcome == Outcome::blocked) {
      const AllowlistSearch& found = session_.search(path);
      append_unique(observed.blocked_globals, found.blocked);
      cell.fix = fix_for(cell, path, found);
    }
    cell.observed = std::move(observed);
  }

  ScanFix fix_for(const ScanCell& cell, const std::string& path, const AllowlistSearch& found) {
    ScanFix fix;
    if (!env_.fingerprint().has_add_safe_globals) {
      fix.note = "this version has no torch.serialization.add_safe_globals: only "
                 "weights_only=False, for files you trust";
      return fix;
    }
    // The suggested allowlist is the static one; it is proved by loading with exactly it.
    const LoadPrediction* predicted = cell.predicted ? &*cell.predicted : nullptr;
    if (predicted && predicted->fixable && !predicted->fix_allowlist.empty() &&
        !(found.loaded && same_set(predicted->fix_allowlist, found.allowlist))) {
      Classification attempt = classify(
          session_.load(path, LoaderMode::weights_only, predicted->fix_allowlist), nullptr);
      if (attempt.outcome == Outcome::pass) {
        fix.allowlist = predicted->fix_allowlist;
        fix.verified = true;
        return fix;
      }
    }
    if (found.loaded) {
      fix.allowlist = found.allowlist;
      fix.verified = true;
      return fix;
    }
    if (!found.stop.empty()) {
      // The search stops where torch names nothing; the static pass may know what that was
      // (a legacy whole module's "module" persistent id): the load just confirmed it.
      bool unnamed = found.stop.starts_with("refused without naming a global");
      const std::string& why =
          unnamed && predicted && !predicted->fixable && !predicted->no_fix.empty()
              ? predicted->no_fix
              : found.stop;
      fix.note = "no safe allowlist: " + why + "; weights_only=False only for files you trust";
      return fix;
    }
    // The search ended on something other than a refusal: say what, since the usual cause is
    // a class the env cannot import, which --python-path fixes, not weights_only=False.
    Classification last = classify(found.last_facts, nullptr);
    std::string error = last.message.substr(0, last.message.find('\n'));
    fix.note = fmt::format("with the refused globals allowlisted the load still fails: {}: {}",
                           last.error_type, error.substr(0, 300));
    bool savers_main =
        std::any_of(found.allowlist.begin(), found.allowlist.end(),
                    [](const std::string& global) { return global.starts_with("__main__."); });
    if (savers_main) {
      fix.note += " (a class defined in the saving script's __main__, which is not the "
                  "loader's: define it in an importable module and save again, or load in a "
                  "script that defines it)";
    } else if (last.error_type == "ModuleNotFoundError" || last.error_type == "ImportError" ||
               last.error_type == "AttributeError") {
      fix.note += " (a class this env cannot import: --python-path DIR makes the files' own "
                  "modules importable)";
    }
    return fix;
  }

  const Environment& env_;
  const VerifyOptions& options_;
  LoadSession session_;
};

} // namespace

void verify_scan(std::vector<ScannedFile>& files, const std::vector<Environment>& envs,
                 const VerifyOptions& options, const ProgressLog& log) {
  std::vector<ScannedFile*> loadable;
  std::vector<std::filesystem::path> roots;
  for (auto& file : files) {
    if (!file.cells.empty()) { // run_scan gives cells to exactly the files a load can open
      loadable.push_back(&file);
      if (std::find(roots.begin(), roots.end(), file.scan.input.root) == roots.end()) {
        roots.push_back(file.scan.input.root);
      }
    }
  }
  std::filesystem::create_directories(options.log_dir);
  size_t jobs = options.jobs > 0 ? options.jobs : std::max(1u, std::thread::hardware_concurrency());
  for_each_on_own_thread(envs.size(), jobs, [&](size_t i) {
    auto started = std::chrono::steady_clock::now();
    EnvVerifier verifier(envs[i], roots, options);
    // A worker that cannot start fails every load alike: say why once, not only in each cell (a
    // rootless mount refused with its way out, an env's broken interpreter).
    if (!loadable.empty()) {
      if (auto worker = verifier.start(); !worker) {
        log(worker.error().message);
      }
    }
    size_t done = 0;
    for (auto* file : loadable) {
      if (options.progress) {
        options.progress(envs[i].spec.name, done++, loadable.size());
      }
      verifier.verify(*file);
    }
    if (options.progress) {
      options.progress(envs[i].spec.name, done, loadable.size());
    }
    log(fmt::format(
        "env {}: loaded {} file(s) in {:.1f} s", envs[i].spec.name, loadable.size(),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()));
  });
}

} // namespace loadmatrix
