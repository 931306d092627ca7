#include "audit/call_site_parser.h"

#include "probes/worker.h"
#include "util/output_file.h"
#include "util/scratch_dir.h"
#include "util/text.h"

#include <algorithm>
#include <chrono>
#include <fmt/core.h>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

namespace loadmatrix {

namespace {

Json error_answer(const std::string& why) {
  return {{"status", "error"}, {"error", why}, {"parsed", false}};
}

class ParserRuns {
public:
  ParserRuns(const Environment& env, const std::vector<const InputFile*>& files,
             const std::vector<std::filesystem::path>& followed, ProcessRunner& runner,
             const std::filesystem::path& scratch)
      : env_(env), files_(files), runner_(runner), scratch_(scratch) {
    runtime_ = env.sandbox.place(env.shipped.runtime_dir, "runtime", false);
    for (const InputFile* input : files) {
      auto [mount, added] = roots_.try_emplace(input->root);
      if (added) {
        mount->second =
            env.sandbox.place(input->root, fmt::format("src{}", roots_.size() - 1), false);
      }
    }
    for (const auto& site : followed) {
      followed_.push_back(env.sandbox.place(site, fmt::format("site{}", followed_.size()), false));
    }
  }

  // A path the parser names (a chain's hop, a helper's retry) as the host's: each mount's
  // inside path mapped back to where it comes from; a path under none is kept as given.
  std::string host_path(const std::string& inside) const {
    auto under = [&](const SandboxMount& mount) -> std::optional<std::string> {
      std::string prefix = mount.inside.string();
      if (inside.size() > prefix.size() && inside.compare(0, prefix.size(), prefix) == 0 &&
          inside[prefix.size()] == '/') {
        return (mount.host / inside.substr(prefix.size() + 1)).string();
      }
      return std::nullopt;
    };
    for (const auto& [root, mount] : roots_) {
      if (auto host = under(mount)) {
        return *host;
      }
    }
    for (const auto& mount : followed_) {
      if (auto host = under(mount)) {
        return *host;
      }
    }
    return inside;
  }

  // One run over files[i] for i in `pending`: the answers it wrote, by position in `pending`
  // (null where it wrote none), and how the run ended.
  std::vector<Json> run(const std::vector<size_t>& pending, size_t jobs, std::string& ended,
                        Termination& how) {
    std::vector<Json> answers(pending.size());
    std::filesystem::path dir = scratch_ / fmt::format("run-{}", runs_++);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    // The parser runs as the sandbox user: its directory is handed to it, the request made
    // readable (the rest of the host stays closed to it).
    make_sandbox_writable(dir);
    SandboxMount work = env_.sandbox.place(dir, "audit", true);
    Json paths = Json::array();
    for (size_t index : pending) {
      const InputFile& input = *files_[index];
      paths.push_back(protocol_path(roots_.at(input.root).inside / input.relative));
    }
    Json roots = Json::array();
    for (const auto& mount : followed_) {
      roots.push_back(protocol_path(mount.inside));
    }
    Json request = {{"files", std::move(paths)}, {"roots", std::move(roots)}, {"jobs", jobs}};
    if (auto written = write_output_file(dir / "request.json", request.dump()); !written) {
      ended = written.error().message;
      return answers;
    }
    std::filesystem::permissions(dir / "request.json", std::filesystem::perms::owner_read |
                                                           std::filesystem::perms::owner_write |
                                                           std::filesystem::perms::group_read |
                                                           std::filesystem::perms::others_read);
    SandboxCommand command;
    command.mounts = {runtime_, work};
    for (const auto& [root, mount] : roots_) {
      command.mounts.push_back(mount);
    }
    command.mounts.insert(command.mounts.end(), followed_.begin(), followed_.end());
    command.argv = {env_.python, (runtime_.inside / "audit_calls.py").string(),
                    (work.inside / "request.json").string(), work.inside.string()};
    // Followed site-packages are read whole while the names are found (15 s for a venv
    // holding Lightning and torch's dependencies, measured): they get their own allowance.
    command.timeout = std::chrono::seconds(60) + std::chrono::milliseconds(50) * pending.size() +
                      std::chrono::seconds(600) * static_cast<int64_t>(followed_.size());
    ProcessResult result = env_.sandbox.run(runner_, command);
    how = result.termination;
    ended = fmt::format("{}{}", result.describe(),
                        result.stderr_text.empty() ? "" : ": " + last_lines(result.stderr_text, 3));
    for (size_t share = 0; share < jobs; ++share) {
      read_share(dir / fmt::format("result-{}.jsonl", share), answers);
    }
    return answers;
  }

  int count() const { return runs_; }

private:
  // The directory was the sandbox user's: only a regular file it left there is read, never a
  // link it could have pointed at a file of root's; each line is one file's answer.
  static void read_share(const std::filesystem::path& file, std::vector<Json>& answers) {
    std::error_code ec;
    if (std::filesystem::symlink_status(file, ec).type() != std::filesystem::file_type::regular) {
      return;
    }
    auto text = read_text_file(file);
    if (!text) {
      return;
    }
    std::istringstream lines(*text);
    std::string line;
    while (std::getline(lines, line)) {
      auto answer = parse_foreign_json(line, file.string());
      if (!answer || !answer->is_object() || !(*answer)["index"].is_number_unsigned()) {
        continue; // a line cut short by a killed run
      }
      size_t index = (*answer)["index"].get<size_t>();
      if (index < answers.size()) {
        answers[index] = std::move(*answer);
      }
    }
  }

  const Environment& env_;
  const std::vector<const InputFile*>& files_;
  ProcessRunner& runner_;
  std::filesystem::path scratch_;
  SandboxMount runtime_;
  std::map<std::filesystem::path, SandboxMount> roots_;
  std::vector<SandboxMount> followed_;
  int runs_ = 0;
};

} // namespace

std::vector<Json> parse_call_sites(const Environment& env,
                                   const std::vector<const InputFile*>& files, size_t jobs,
                                   ProcessRunner& runner,
                                   const std::vector<std::filesystem::path>& followed) {
  std::vector<Json> answers(files.size());
  auto scratch = ScratchDir::create("loadmatrix-audit");
  if (!scratch) {
    std::fill(answers.begin(), answers.end(), error_answer(scratch.error().message));
    return answers;
  }
  ParserRuns runs(env, files, followed, runner, scratch->path());
  size_t cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<size_t> pending(files.size());
  for (size_t i = 0; i < pending.size(); ++i) {
    pending[i] = i;
  }
  // Files a run stopped on: retried alone, since the other shares of a run cut short were
  // stopped wherever they were.
  std::vector<size_t> suspects;
  while (!pending.empty()) {
    size_t shares = std::max<size_t>(1, std::min(jobs ? jobs : cores, pending.size()));
    std::string ended;
    Termination how = Termination::exited;
    bool first = runs.count() == 0;
    std::vector<Json> got = runs.run(pending, shares, ended, how);
    bool none = std::all_of(got.begin(), got.end(), [](const Json& a) { return a.is_null(); });
    if (first && none && (how == Termination::exited || how == Termination::spawn_failed)) {
      // Not one file finished, nothing hung or crashed: the parser itself cannot run here.
      for (size_t index : pending) {
        answers[index] = error_answer(
            fmt::format("the parser in env {} did not run ({})", env.spec.name, ended));
      }
      break;
    }
    std::vector<size_t> next;
    for (size_t share = 0; share < shares; ++share) {
      bool stopped = false;
      for (size_t position = share; position < pending.size(); position += shares) {
        if (!got[position].is_null()) {
          answers[pending[position]] = std::move(got[position]);
        } else if (!stopped) {
          stopped = true; // the file this share was on when the run ended
          suspects.push_back(pending[position]);
        } else {
          next.push_back(pending[position]);
        }
      }
    }
    std::sort(next.begin(), next.end());
    pending = std::move(next);
  }
  for (size_t suspect : suspects) {
    std::string alone;
    Termination how = Termination::exited;
    std::vector<Json> retried = runs.run({suspect}, 1, alone, how);
    answers[suspect] =
        retried[0].is_null()
            ? error_answer(fmt::format("the parser did not finish this file ({})", alone))
            : std::move(retried[0]);
  }
  for (auto& answer : answers) {
    auto calls = answer.is_object() ? answer.find("calls") : answer.end();
    if (!answer.is_object() || calls == answer.end() || !calls->is_array()) {
      continue;
    }
    for (auto& call : *calls) {
      if (!call.is_object()) {
        continue;
      }
      if (auto chain = call.find("chain"); chain != call.end() && chain->is_array()) {
        for (auto& hop : *chain) {
          if (hop.is_object() && hop["path"].is_string()) {
            hop["path"] = runs.host_path(hop["path"].get<std::string>());
          }
        }
      }
      if (auto fallback = call.find("fallback");
          fallback != call.end() && fallback->is_object() && (*fallback)["path"].is_string()) {
        (*fallback)["path"] = runs.host_path((*fallback)["path"].get<std::string>());
      }
    }
  }
  return answers;
}

} // namespace loadmatrix
