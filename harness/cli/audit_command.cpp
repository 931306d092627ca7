// loadmatrix audit PATH...: the torch loader call sites in a maintainer's Python code, what each
// does on every env of the matrix, and the change that makes it right on all of them.
#include "audit/audit_job.h"
#include "cli/cli.h"
#include "cli/resources.h"
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
  std::string installed;
  bool follow_installed = false;
  FactsOptions facts;
  size_t jobs = 0;
};

AuditJobRequest audit_request(const GlobalOptions& options, const AuditArgs& args) {
  AuditJobRequest job;
  job.matrix = options.matrix_path();
  job.envs = args.envs;
  job.preparation.env_dir = EnvCache::resolve_dir(options.env_dir);
  job.preparation.shipped = resources().shipped;
  job.preparation.provisioning =
      args.provision ? EnvProvisioning::kBuildMissing : EnvProvisioning::kUseExisting;
  apply_facts_options(args.facts, job.preparation);
  job.audit.host_python = host_python();
  for (const auto& path : args.paths) {
    job.audit.paths.emplace_back(path);
  }
  job.audit.assume_env = args.assume_env;
  job.installed_env = args.installed;
  job.follow_installed = args.follow_installed;
  job.audit.jobs = args.jobs;
  if (!args.results.empty()) {
    job.audit.results = args.results;
  }
  return job;
}

ExitStatus audit_from_flags(GlobalOptions& options, const AuditArgs& args) {
  DocumentTargets targets = require_document_targets(args.json, args.sarif);
  if (!args.out.empty()) {
    require_output_dir(args.out);
  }
  AuditJobRequest request = audit_request(options, args);
  request.outputs = document_outputs(
      options, targets,
      args.out.empty() ? std::nullopt : std::optional<std::filesystem::path>(args.out));
  // With a document on stdout, the table goes to stderr.
  JobOutput output(targets.to_stdout ? std::cerr : std::cout, std::cerr);
  return audit_job(
             std::move(request), system_runner(),
             [&](const std::string& line) { log_progress(options, line); }, output)
      .status;
}

} // namespace

void add_audit_command(CLI::App& app, GlobalOptions& options) {
  auto args = std::make_shared<AuditArgs>();
  CLI::App* audit = app.add_subcommand(
      "audit", "Where this Python code calls torch's loaders, what each call does on every "
               "torch version, and the change that makes it right on all of them");
  audit->add_option("paths", args->paths, "Python files and directories (walked for *.py)");
  audit->add_option("--installed", args->installed,
                    "Also audit this env's installed packages (its site-packages), each call "
                    "site named by its distribution and version");
  audit->add_flag("--follow-installed", args->follow_installed,
                  "Follow calls into each env's installed packages (helpers such as Lightning's "
                  "load_from_checkpoint), each env through its own library versions");
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
  add_facts_options(*audit, args->facts);
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
    if (args->paths.empty() && args->installed.empty()) {
      throw CLI::RequiredError("paths (or --installed ENV)");
    }
    if (auto both = assumed_variable(args->assume_env); !both) {
      throw CLI::ValidationError("--assume-env", both.error().message);
    }
    options.status = audit_from_flags(options, *args);
  });
}

} // namespace loadmatrix
