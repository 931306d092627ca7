#include "run/matrix_run.h"

#include "run/checkpoint_paths.h"
#include "run/env_run.h"
#include "util/parallel.h"

#include <algorithm>
#include <fmt/core.h>
#include <set>
#include <thread>

namespace loadmatrix {

namespace {
using Clock = std::chrono::steady_clock;
} // namespace

std::filesystem::path checkpoints_root(const RunOptions& options) {
  return checkpoints_root(options.out_dir, options.checkpoints_from);
}

std::vector<std::string> RunPlan::producers_of(const std::string& consumer) const {
  auto found = std::find(consumers.begin(), consumers.end(), consumer);
  if (found == consumers.end()) {
    return {};
  }
  auto paired =
      producers_loaded_by(consumers, static_cast<size_t>(found - consumers.begin()), pairs);
  // Only producers whose files this run has (run_job drops one whose save is missing).
  std::erase_if(paired, [&](const std::string& producer) {
    return std::find(producers.begin(), producers.end(), producer) == producers.end();
  });
  return paired;
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
  Json header = {{"envs", envs}, {"cases", cases}, {"modes", mode_ids}};
  if (plan.pairs != Pairs::all) {
    // Which cells exist, for merge's missing-cell check and the reports' grids.
    Json loads = Json::object();
    for (const auto& consumer : plan.consumers) {
      loads[consumer] = plan.producers_of(consumer);
    }
    header["pairs"] = pairs_name(plan.pairs);
    header["loads"] = loads;
  }
  return header;
}

RunReport run_matrix(const RunPlan& plan, const RunOptions& options, ResultStore& store,
                     ProcessRunner& runner, const ProgressLog& log) {
  auto started = Clock::now();
  RunReport report;
  report.resumed = store.resumed();
  std::mutex report_mutex;
  std::filesystem::create_directories(options.out_dir / "logs");
  std::vector<std::unique_ptr<EnvRun>> envs;
  for (const auto& env : plan.envs) {
    envs.push_back(
        std::make_unique<EnvRun>(env, plan, options, store, runner, report, report_mutex, log));
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
    EnvRun::BlockedFiles blocked;
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
