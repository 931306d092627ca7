#include "audit/audit_publish.h"

#include "audit/audit_report.h"
#include "audit/audit_table.h"
#include "audit/sarif.h"
#include "util/json_file.h"

namespace loadmatrix {

namespace {

// nothing_found: no Python file; failing: a finding; error: a file could not be audited.
ExitStatus audit_status(const AuditResult& result, const std::vector<std::filesystem::path>& paths,
                        JobOutput& output) {
  if (result.files.empty()) {
    return nothing_found_under(paths, "Python files", output);
  }
  if (has_findings(result)) {
    return ExitStatus::failing;
  }
  for (const auto& file : result.files) {
    if (!file.ok) {
      return ExitStatus::error;
    }
  }
  return ExitStatus::ok;
}

} // namespace

ExitStatus publish_audit(const AuditJobResult& job, const DocumentOutputs& outputs,
                         const std::vector<std::filesystem::path>& paths, JobOutput& output) {
  output.begin();
  bool to_out = outputs.out_dir.has_value();
  std::string document =
      outputs.json || to_out ? dump_json(audit_json(job), 1) + "\n" : std::string();
  std::string sarif =
      outputs.sarif || to_out
          ? dump_json(audit_sarif(job, outputs.sarif_base, outputs.information_uri), 1) + "\n"
          : std::string();
  if (outputs.json) {
    write_output(*outputs.json, document).value_or_throw();
  }
  if (outputs.sarif) {
    write_output(*outputs.sarif, sarif).value_or_throw();
  }
  if (to_out) {
    const std::filesystem::path& out_dir = *outputs.out_dir;
    write_output_file(out_dir / "audit.json", document).value_or_throw();
    write_output_file(out_dir / "audit.sarif", sarif).value_or_throw();
    std::string css = read_text_file(outputs.report_assets / "report.css").value_or_throw();
    write_output_file(out_dir / "report.html", render_audit_html(job, css)).value_or_throw();
    write_output_file(out_dir / "summary.md", render_audit_markdown(job)).value_or_throw();
  }
  output.out() << render_audit_table(job.result, outputs.width, outputs.palette);
  return audit_status(job.result, paths, output);
}

} // namespace loadmatrix
