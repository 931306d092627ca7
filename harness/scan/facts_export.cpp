#include "scan/facts_export.h"

#include "envs/manifest.h"
#include "matrix/matrix.h"
#include "scan/scan_job.h"
#include "util/json_file.h"
#include "util/parallel.h"
#include "util/text.h"

#include <algorithm>
#include <fmt/core.h>

namespace loadmatrix {

FactsExportResult export_facts(const FactsExportRequest& request, ProcessRunner& runner,
                               const ProgressLog& log) {
  FactsExportResult result;
  if (request.update && std::filesystem::exists(request.out)) {
    auto existing = read_facts_file(request.out);
    if (!existing) {
      throw FatalError(existing.error().message);
    }
    result.facts = std::move(existing).value();
  }
  PreparedEnvs prepared = prepare_envs(load_matrix(request.matrix).select_envs(request.envs),
                                       request.preparation, runner, log);
  result.missing = prepared.missing;
  if (prepared.envs.empty()) {
    // Nothing to write: an existing file is left as it is.
    throw FatalError(fmt::format("no env of the selection is provisioned, so nothing was "
                                 "exported{} (loadmatrix envs provision NAME)",
                                 prepared.missing.empty() ? std::string()
                                                          : ": " + join(prepared.missing, ", ")));
  }

  std::vector<ScannedFile> files = static_pass(request.globals_from, 0);
  EnvQuestions questions = questions_of(files, nullptr, log);
  log(fmt::format("facts: {} global(s) and {} sparse layout(s) from {} file(s), asked in {} env(s)",
                  questions.globals.size(), questions.sparse.size(), files.size(),
                  prepared.envs.size()));
  std::vector<EnvFacts> measured(prepared.envs.size());
  for_each_index(prepared.envs.size(), 0, [&](size_t i) {
    const Environment& env = prepared.envs[i];
    measured[i].manifest = env.manifest;
    if (questions.globals.empty() && questions.sparse.empty()) {
      return;
    }
    SystemProcessRunner own_runner;
    ResolveOptions options;
    options.cache_file = EnvCache(request.preparation.env_dir).globals_cache(env.spec.name);
    ResolvedGlobals answers = resolve_globals(env, own_runner, questions, options);
    if (!answers.error.empty()) {
      log(fmt::format("env {}: some globals not resolved, exported without them: {}", env.spec.name,
                      answers.error));
    }
    // Only what was asked: the cache may hold other scans' names (and --python-path ones never).
    for (const auto& lookup : questions.globals) {
      if (const auto* answer = answers.find(lookup)) {
        measured[i].globals.by_key.emplace(lookup.key(), *answer);
      }
    }
    for (const auto& lookup : questions.sparse) {
      if (const auto* answer = answers.find(lookup)) {
        measured[i].globals.by_key.emplace(lookup.key(), *answer);
      }
    }
  });
  for (auto& env : measured) {
    std::string name = env.manifest.name;
    auto kept = std::find_if(result.facts.envs.begin(), result.facts.envs.end(),
                             [&](const EnvFacts& old) { return old.manifest.name == name; });
    if (kept != result.facts.envs.end()) {
      *kept = std::move(env); // in its place: the file keeps the order it was first written in
    } else {
      result.facts.envs.push_back(std::move(env));
    }
    result.exported.push_back(name);
  }
  result.facts.created = utc_now_iso8601();
  if (auto written = write_json_file(request.out, result.facts.to_json()); !written) {
    throw FatalError(fmt::format("facts {}: {}", request.out.string(), written.error().message));
  }
  return result;
}

} // namespace loadmatrix
