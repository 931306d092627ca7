#include "cli/cli.h"

#include "cli/resources.h"
#include "util/error.h"
#include "util/sarif_log.h"
#include "util/spawn.h"

#include <csignal>
#include <cstdlib>
#include <fmt/core.h>
#include <iostream>
#include <mutex>
#include <regex>
#include <unistd.h>

namespace loadmatrix {

std::string GlobalOptions::matrix_path() const {
  if (!matrix.empty()) {
    // A bare name that is no file here is one of the matrices loadmatrix ships: an installed
    // loadmatrix's are deep in its package ("--matrix releases.json").
    std::error_code ec;
    auto shipped = resources().home / "matrix" / matrix;
    if (matrix.find('/') == std::string::npos && !std::filesystem::exists(matrix, ec) &&
        std::filesystem::is_regular_file(shipped, ec)) {
      return shipped.string();
    }
    return matrix;
  }
  if (const char* from_env = std::getenv("LOADMATRIX_MATRIX"); from_env && *from_env) {
    return from_env;
  }
  return (resources().home / "matrix" / "default.json").string();
}

Palette GlobalOptions::palette_for(int fd) const {
  return Palette(color_enabled(parse_color_choice(color).value_or(ColorChoice::never), fd));
}

void add_facts_options(CLI::App& command, FactsOptions& options) {
  command
      .add_option("--facts", options.files,
                  "Measured facts (loadmatrix facts export) to predict from for envs that are "
                  "not provisioned, before the facts shipped with loadmatrix (repeatable)")
      ->allow_extra_args(false);
  command.add_flag("--no-shipped-facts", options.no_shipped,
                   "Never predict from the facts of every release shipped with loadmatrix");
  command
      .add_option("--min-torch", options.min_torch,
                  "Leave out the envs whose measured torch is older than this (the lowest "
                  "torch the project supports, e.g. 2.1)")
      ->check([](const std::string& version) {
        static const std::regex form(R"([0-9]+(\.[0-9]+)*)");
        return std::regex_match(version, form)
                   ? std::string()
                   : "expected a version of dot-separated numbers, like 2.1 or 2.6.0";
      });
}

void apply_facts_options(const FactsOptions& options, EnvPreparation& preparation) {
  for (const auto& file : options.files) {
    preparation.facts.emplace_back(file);
  }
  std::error_code ec;
  if (!options.no_shipped && std::filesystem::is_regular_file(resources().facts, ec)) {
    preparation.facts.push_back(resources().facts);
  }
  preparation.min_torch = options.min_torch;
}

std::filesystem::path host_python() {
  if (const char* chosen = std::getenv("LOADMATRIX_PYTHON"); chosen && *chosen) {
    return chosen;
  }
  // The system's own first: a PATH python3 may be a shim (pyenv) under a home the sandbox user
  // cannot enter.
  if (::access("/usr/bin/python3", X_OK) == 0) {
    return "/usr/bin/python3";
  }
  return find_on_path("python3");
}

ProcessRunner& system_runner() {
  static SystemProcessRunner runner;
  return runner;
}

OutputTarget require_output_file(const std::string& path) {
  return resolve_output(path).value_or_throw();
}

DocumentTargets require_document_targets(const std::string& json, const std::string& sarif) {
  DocumentTargets targets;
  if (!json.empty()) {
    targets.json = require_output_file(json);
  }
  if (!sarif.empty()) {
    targets.sarif = require_output_file(sarif);
  }
  auto is_stdout = [](const std::optional<OutputTarget>& target) {
    return target && target->kind == OutputTarget::Kind::standard_output;
  };
  if (is_stdout(targets.json) && is_stdout(targets.sarif)) {
    throw CLI::ValidationError("--json, --sarif",
                               "only one of them can be standard output (two documents there "
                               "would not be one valid JSON)");
  }
  targets.to_stdout = is_stdout(targets.json) || is_stdout(targets.sarif);
  return targets;
}

DocumentOutputs document_outputs(const GlobalOptions& options, const DocumentTargets& targets,
                                 std::optional<std::filesystem::path> out_dir) {
  DocumentOutputs outputs;
  outputs.json = targets.json;
  outputs.sarif = targets.sarif;
  outputs.out_dir = std::move(out_dir);
  outputs.sarif_base = std::filesystem::current_path();
  outputs.information_uri = sarif_information_uri(resources().home);
  outputs.report_assets = resources().report_assets;
  int out_fd = targets.to_stdout ? 2 : 1;
  outputs.width = options.width_for(out_fd);
  outputs.palette = options.palette_for(out_fd);
  return outputs;
}

void require_output_dir(const std::filesystem::path& dir) {
  prepare_output_dir(dir).value_or_throw();
}

void log_progress(const GlobalOptions& options, const std::string& line) {
  if (!options.quiet) {
    // Envs are opened on threads of their own (session/env_preparation.h): one write a line.
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    std::cerr << "loadmatrix: " << line << std::endl;
  }
}

int loadmatrix_main(int argc, char** argv) {
  // A worker or probe that dies mid-write must surface as a result, not kill the driver.
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"loadmatrix: which checkpoints and loading code break on which torch version, "
               "why, and what change makes them load again."};
  app.set_version_flag("--version", "loadmatrix 0.1.0");
  app.require_subcommand(1);
  // Global options are taken on either side of the subcommand (`loadmatrix run --matrix X`, as
  // users write it, and `loadmatrix --matrix X run`); subcommands inherit this when added.
  app.fallthrough();
  GlobalOptions options;
  app.add_option("--matrix", options.matrix,
                 "Matrix JSON, or the name of a shipped one (releases.json, libraries.json, ...) "
                 "(default: $LOADMATRIX_MATRIX, else the shipped default.json)");
  app.add_option("--env-dir", options.env_dir,
                 "Env cache (default: $LOADMATRIX_ENV_DIR, else ~/.cache/loadmatrix/envs)");
  app.add_flag("-q,--quiet", options.quiet, "No progress lines on stderr");
  app.add_option("--color", options.color,
                 "Colour on stdout: auto (a terminal, unless NO_COLOR is set), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  add_run_command(app, options);
  add_report_commands(app, options);
  add_merge_command(app, options);
  add_scan_command(app, options);
  add_audit_command(app, options);
  add_envs_command(app, options);
  add_facts_command(app, options);
  add_probe_command(app, options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return exit_code(ExitStatus::usage);
  } catch (const FatalError& e) {
    std::cerr << "loadmatrix: error: " << e.what() << std::endl;
    return exit_code(ExitStatus::error);
  } catch (const std::exception& e) {
    std::cerr << "loadmatrix: internal error: " << e.what() << std::endl;
    return exit_code(ExitStatus::error);
  }
  return exit_code(options.status);
}

} // namespace loadmatrix
