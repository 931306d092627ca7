// loadmatrix facts export: provisioned envs' measured facts as a data file (probes/env_facts.h),
// which scan --facts (and the shipped matrix/facts/releases.json) predict from where the envs do
// not exist.
#include "cli/cli.h"
#include "cli/resources.h"
#include "scan/facts_export.h"
#include "util/text.h"

#include <algorithm>
#include <fmt/core.h>
#include <iostream>
#include <memory>

namespace loadmatrix {

namespace {

struct FactsArgs {
  std::vector<std::string> envs;
  std::vector<std::string> globals_from;
  std::string out;
  bool update = false;
};

void export_from_flags(GlobalOptions& options, const FactsArgs& args) {
  FactsExportRequest request;
  request.matrix = options.matrix_path();
  request.envs = args.envs;
  request.preparation.env_dir = EnvCache::resolve_dir(options.env_dir);
  request.preparation.shipped = resources().shipped;
  for (const auto& path : args.globals_from) {
    request.globals_from.emplace_back(path);
  }
  request.out = args.out;
  request.update = args.update;
  auto log = [&](const std::string& line) { log_progress(options, line); };
  FactsExportResult result = export_facts(request, system_runner(), log);
  for (const auto& env : result.facts.envs) {
    if (std::find(result.exported.begin(), result.exported.end(), env.manifest.name) !=
        result.exported.end()) {
      std::cout << fmt::format("{}: torch {}, {} allowlisted, {} global(s) answered\n",
                               env.manifest.name, env.manifest.fingerprint.torch,
                               env.manifest.fingerprint.allowlist
                                   ? std::to_string(env.manifest.fingerprint.allowlist->size())
                                   : std::string("no"),
                               env.globals.by_key.size());
    }
  }
  std::cout << fmt::format("{}: {} env(s) ({} exported now)\n", args.out, result.facts.envs.size(),
                           result.exported.size());
  if (!result.missing.empty()) {
    throw FatalError(fmt::format("not provisioned, so not exported: {} (loadmatrix envs "
                                 "provision NAME)",
                                 join(result.missing, ", ")));
  }
}

} // namespace

void add_facts_command(CLI::App& app, GlobalOptions& options) {
  auto args = std::make_shared<FactsArgs>();
  CLI::App* facts = app.add_subcommand(
      "facts", "Envs' measured facts as data, for predictions where the envs do not exist");
  facts->require_subcommand(1);
  CLI::App* out = facts->add_subcommand(
      "export", "Write the provisioned envs' measured facts (loadmatrix.facts/1) to a file");
  out->add_option("--envs", args->envs, "Only these envs of the matrix")
      ->delimiter(',')
      ->allow_extra_args(false);
  out->add_option("--globals-from", args->globals_from,
                  "Checkpoints whose globals each env is asked about, so predictions from the "
                  "facts equal the env's on them (repeatable)")
      ->allow_extra_args(false);
  out->add_option("--out", args->out, "The facts file")->required();
  out->add_flag("--update", args->update,
                "Keep the envs already in --out that this export does not measure");
  out->callback([&options, args] { export_from_flags(options, *args); });
}

} // namespace loadmatrix
