// loadmatrix probe cpp --env NAME FILE: load one file with libtorch's C++ API in one env.
#include "cli/cli.h"
#include "cli/resources.h"
#include "envs/provisioner.h"
#include "matrix/matrix.h"
#include "probes/cpp_probe_build.h"

#include <iostream>
#include <memory>

namespace loadmatrix {

namespace {

struct ProbeArgs {
  std::string env;
  std::string mode = "pickle";
  std::string file;
};

void probe_cpp(GlobalOptions& options, const ProbeArgs& args) {
  Matrix matrix = load_matrix(options.matrix_path());
  EnvSpec spec = matrix.select_envs({args.env}).front();
  EnvCache cache(EnvCache::resolve_dir(options.env_dir));
  auto log = [&](const std::string& line) { log_progress(options, line); };
  Provisioner provisioner(cache, resources().shipped, system_runner(), log);
  Environment env = provisioner.open(spec).value_or_throw();
  CppProbe probe = ensure_cpp_probe(env, cache, system_runner(), log).value_or_throw();
  if (!std::filesystem::is_regular_file(args.file)) {
    throw FatalError(args.file + ": not a regular file");
  }
  CppProbeRun run = run_cpp_probe(env, probe, system_runner(), args.mode, args.file);
  if (!run.report) {
    throw FatalError(run.report.error().message + " (" + run.result.describe() + ")\n" +
                     run.result.stderr_text);
  }
  std::cout << run.report->dump() << "\n";
}

} // namespace

void add_probe_command(CLI::App& app, GlobalOptions& options) {
  auto args = std::make_shared<ProbeArgs>();
  CLI::App* probe = app.add_subcommand("probe", "Run one loader probe by hand");
  probe->require_subcommand(1);
  CLI::App* cpp = probe->add_subcommand(
      "cpp", "Load FILE with torch::pickle_load or torch::jit::load in one env; print JSON");
  cpp->add_option("--env", args->env, "Env name from the matrix")->required();
  cpp->add_option("--mode", args->mode, "pickle (torch::pickle_load) or jit (torch::jit::load)")
      ->check(CLI::IsMember({"pickle", "jit"}))
      ->capture_default_str();
  cpp->add_option("file", args->file, "Checkpoint file")->required();
  cpp->callback([&options, args] { probe_cpp(options, *args); });
}

} // namespace loadmatrix
