#include "scan/scan_publish.h"

#include "publish/publish.h"
#include "scan/scan_sarif.h"
#include "scan/scan_table.h"
#include "util/json_file.h"

#include <fmt/core.h>

namespace loadmatrix {

namespace {

// nothing_found when nothing was scanned, failing when a file breaks, is dangerous or is
// unreadable, else ok.
ExitStatus scan_status(const ScanResult& result, const std::vector<std::filesystem::path>& paths,
                       JobOutput& output) {
  if (result.files.empty()) {
    return nothing_found_under(paths, "files", output);
  }
  for (const auto& file : result.files) {
    if (is_finding(file.verdict())) {
      return ExitStatus::failing;
    }
  }
  return ExitStatus::ok;
}

} // namespace

ExitStatus publish_scan(const ScanJobResult& job, const ScanJobRequest& request,
                        JobOutput& output) {
  const ScanResult& result = job.result;
  const DocumentOutputs& outputs = request.outputs;
  output.begin();
  std::string document;
  if (outputs.json || outputs.out_dir) {
    document = result.to_json_text({{"missing_envs", job.missing}}, request.scan.static_jobs);
  }
  if (outputs.json) {
    write_output(*outputs.json, document).value_or_throw();
  }
  std::string sarif =
      outputs.sarif || outputs.out_dir
          ? dump_json(scan_sarif(result, outputs.sarif_base, outputs.information_uri), 1) + "\n"
          : std::string();
  if (outputs.sarif) {
    write_output(*outputs.sarif, sarif).value_or_throw();
  }
  output.out() << render_scan_table(result, job.envs, outputs.width, outputs.palette);
  if (outputs.out_dir) {
    const std::filesystem::path& out_dir = *outputs.out_dir;
    write_output_file(out_dir / "scan.json", document).value_or_throw();
    write_output_file(out_dir / "scan.sarif", sarif).value_or_throw();
    auto [header, records] = write_scan_results(result, out_dir);
    PublishOptions publishing;
    publishing.fail_on = FailOn::none;
    publishing.palette = outputs.palette;
    publishing.report_assets = outputs.report_assets;
    publish(std::move(header), std::move(records), out_dir, publishing, output.out(), output.err());
  }
  if (result.verified) {
    ScanResult::Agreement counts = result.agreement();
    output.out() << fmt::format("prediction vs observed: {} agree, {} disagree\n", counts.agree,
                                counts.disagree);
  }
  return scan_status(result, request.scan.paths, output);
}

} // namespace loadmatrix
