// The loadmatrix command line. main() only calls loadmatrix_main; everything else is here so
// tests can reach it.
#pragma once

#include "publish/document_outputs.h"
#include "session/env_preparation.h"
#include "util/output_file.h"
#include "util/process.h"
#include "util/terminal.h"

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace loadmatrix {

// Options every subcommand shares. Precedence: flag, then environment variable, then default.
struct GlobalOptions {
  std::string matrix;  // --matrix, $LOADMATRIX_MATRIX, <home>/matrix/default.json
  std::string env_dir; // --env-dir, $LOADMATRIX_ENV_DIR, ~/.cache/loadmatrix/envs
  bool quiet = false;
  std::string color = "auto";         // --color: auto (a terminal without NO_COLOR), always, never
  ExitStatus status = ExitStatus::ok; // what the subcommand's job decided

  std::string matrix_path() const;
  // What a table written to `fd` may use: colour per --color, and the terminal's width (80
  // when `fd` is not a terminal).
  Palette palette_for(int fd) const;
  size_t width_for(int fd) const { return output_width(fd); }
};

ProcessRunner& system_runner();
// Progress lines on stderr, so stdout stays machine-readable.
void log_progress(const GlobalOptions& options, const std::string& line);

// Output destinations are checked before any work (util/output_file.h): a bad one ends the
// command with "loadmatrix: error: <path>: <reason>" and exit 2, not after a long run.
OutputTarget require_output_file(const std::string& path);

// --json and --sarif, each a file or `-` for standard output: checked before any work, and at
// most one of them standard output (two documents there would not be one valid JSON: a usage
// error naming both).
struct DocumentTargets {
  std::optional<OutputTarget> json;
  std::optional<OutputTarget> sarif;
  bool to_stdout = false; // one of them is: the table and the headline go to stderr
};
DocumentTargets require_document_targets(const std::string& json, const std::string& sarif);
// What scan and audit write (publish/document_outputs.h): `targets`, `out_dir` (--out, if
// given), SARIF relative to the working directory, and the table on stdout, or on stderr when a
// document is there.
DocumentOutputs document_outputs(const GlobalOptions& options, const DocumentTargets& targets,
                                 std::optional<std::filesystem::path> out_dir);
void require_output_dir(const std::filesystem::path& dir);

// scan's and audit's way to envs that are not provisioned: --facts FILE (repeatable), then the
// facts shipped with loadmatrix (resources().facts) unless --no-shipped-facts; and --min-torch.
struct FactsOptions {
  std::vector<std::string> files;
  bool no_shipped = false;
  std::string min_torch;
};
void add_facts_options(CLI::App& command, FactsOptions& options);
// Into `preparation`: the facts files in the order they are consulted, and min_torch.
void apply_facts_options(const FactsOptions& options, EnvPreparation& preparation);
// The host's Python for what needs only Python (audit's parser without a provisioned env):
// $LOADMATRIX_PYTHON (the wheel's launcher sets its own interpreter), else /usr/bin/python3,
// else python3 on PATH; empty when none exists.
std::filesystem::path host_python();

void add_envs_command(CLI::App& app, GlobalOptions& options);
void add_probe_command(CLI::App& app, GlobalOptions& options);
void add_run_command(CLI::App& app, GlobalOptions& options);
void add_report_commands(CLI::App& app, GlobalOptions& options);
void add_merge_command(CLI::App& app, GlobalOptions& options);
void add_scan_command(CLI::App& app, GlobalOptions& options);
void add_audit_command(CLI::App& app, GlobalOptions& options);
void add_facts_command(CLI::App& app, GlobalOptions& options);

int loadmatrix_main(int argc, char** argv);

} // namespace loadmatrix
