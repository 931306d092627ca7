// loadmatrix audit PATH...: the torch loader call sites in a maintainer's Python code, what each
// does on every env of the matrix, and the change that makes it right on all of them.
#include "audit/audit_job.h"
#include "audit/audit_report.h"
#include "audit/audit_table.h"
#include "audit/sarif.h"
#include "cli/cli.h"
#include "envs/resources.h"
#include "util/json_file.h"
#include "util/text.h"

#include <iostream>
#include <memory>
#include <optional>

namespace loadmatrix {

namespace {

struct AuditArgs {
  std::vector<std::string> paths;
  std::vector<std::string> envs;
  std::vector<std::string> assume_env;
  bool provision = false;
  std::string json;
  std::string sarif;
  std::string out;
  std::string results;
  size_t jobs = 0;
};

AuditJobRequest audit_request(const GlobalOptions& options, const AuditArgs& args) {
  AuditJobRequest job;
  job.matrix = options.matrix_path();
  job.env_dir = EnvCache::resolve_dir(options.env_dir);
  job.envs = args.envs;
  job.provisioning =
      args.provision ? EnvProvisioning::kBuildMissing : EnvProvisioning::kUseExisting;
  for (const auto& path : args.paths) {
    job.audit.paths.emplace_back(path);
  }
  job.audit.assume_env = args.assume_env;
  job.audit.jobs = args.jobs;
  if (!args.results.empty()) {
    job.audit.results = args.results;
  }
  return job;
}

// 3: nothing to audit; 1: a finding; 2: a file could not be audited; else 0.
int audit_exit_status(const AuditResult& result, const AuditArgs& args) {
  if (result.files.empty()) {
    std::cerr << "loadmatrix: no Python files found under " << join(args.paths, ", ") << "\n";
    return kExitNothingScanned;
  }
  if (has_findings(result)) {
    return kExitRegressions;
  }
  for (const auto& file : result.files) {
    if (!file.ok) {
      return kExitHarnessError;
    }
  }
  return kExitOk;
}

int audit_from_flags(GlobalOptions& options, const AuditArgs& args) {
  DocumentTargets targets = require_document_targets(args.json, args.sarif);
  const std::optional<OutputTarget>& json_target = targets.json;
  const std::optional<OutputTarget>& sarif_target = targets.sarif;
  if (!args.out.empty()) {
    require_output_dir(args.out);
  }
  bool to_stdout = targets.to_stdout;
  std::ostream& out = to_stdout ? std::cerr : std::cout;
  AuditJobResult job = audit_job(audit_request(options, args), system_runner(),
                                 [&](const std::string& line) { log_progress(options, line); });
  // Each document is made only when something writes it (a large codebase's is megabytes).
  bool to_out = !args.out.empty();
  std::string document = json_target || to_out ? dump_json(audit_json(job), 1) : std::string();
  std::string sarif = sarif_target || to_out
                          ? dump_json(audit_sarif(job, std::filesystem::current_path()), 1)
                          : std::string();
  if (json_target) {
    write_output(*json_target, document + "\n").value_or_throw();
  }
  if (sarif_target) {
    write_output(*sarif_target, sarif + "\n").value_or_throw();
  }
  if (!args.out.empty()) {
    write_output_file(std::filesystem::path(args.out) / "audit.json", document + "\n")
        .value_or_throw();
    write_output_file(std::filesystem::path(args.out) / "audit.sarif", sarif + "\n")
        .value_or_throw();
    std::string css = read_text_file(resources().home / "reports" / "report.css").value_or_throw();
    write_output_file(std::filesystem::path(args.out) / "report.html", render_audit_html(job, css))
        .value_or_throw();
    write_output_file(std::filesystem::path(args.out) / "summary.md", render_audit_markdown(job))
        .value_or_throw();
  }
  int out_fd = to_stdout ? 2 : 1;
  out << render_audit_table(job.result, options.width_for(out_fd), options.palette_for(out_fd));
  return audit_exit_status(job.result, args);
}

} // namespace

void add_audit_command(CLI::App& app, GlobalOptions& options) {
  auto args = std::make_shared<AuditArgs>();
  CLI::App* audit = app.add_subcommand(
      "audit", "Where this Python code calls torch's loaders, what each call does on every "
               "torch version, and the change that makes it right on all of them");
  audit->add_option("paths", args->paths, "Python files and directories (walked for *.py)")
      ->required();
  // One value per occurrence (repeat the option, or separate envs by commas), so that the paths
  // after it are not taken as more values.
  audit->add_option("--envs", args->envs, "Only these envs of the matrix")
      ->delimiter(',')
      ->allow_extra_args(false);
  audit
      ->add_option("--assume-env", args->assume_env,
                   "Audit as if this variable were set (TORCH_FORCE_WEIGHTS_ONLY_LOAD=1 or "
                   "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1)")
      ->allow_extra_args(false)
      ->check([](const std::string& setting) {
        auto checked = assumed_variable({setting});
        return checked ? std::string() : checked.error().message;
      });
  audit->add_flag("--provision", args->provision, "Build envs that do not exist yet");
  audit->add_option("--json", args->json,
                    "Write the audit (loadmatrix.audit/1) to this file (-: standard output)");
  audit->add_option("--sarif", args->sarif, "Write SARIF 2.1.0 to this file (-: standard output)");
  audit->add_option("--out", args->out,
                    "Write audit.json, audit.sarif, report.html and summary.md here");
  audit
      ->add_option("--results", args->results,
                   "A run's results.json: link its failing scenarios to the call sites they "
                   "failed at, with the fixes the run proved there")
      ->check(CLI::ExistingFile);
  audit->add_option("--jobs", args->jobs, "Parser processes (default: one per core)");
  audit->callback([&options, args] {
    if (auto both = assumed_variable(args->assume_env); !both) {
      throw CLI::ValidationError("--assume-env", both.error().message);
    }
    options.exit_code = audit_from_flags(options, *args);
  });
}

} // namespace loadmatrix
