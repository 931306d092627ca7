#include "reports/report_writer.h"

#include "reports/html_report.h"
#include "reports/junit_report.h"
#include "reports/markdown_summary.h"
#include "util/json_file.h"
#include "util/resources.h"

namespace loadmatrix {

Expected<bool> write_reports(const ResultsModel& model, const std::filesystem::path& out_dir) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  for (const auto& [name, text] :
       {std::pair<const char*, std::string>{
            "report.html", render_html_report(model, resources().home / "reports")},
        {"summary.md", render_markdown_summary(model)},
        {"junit.xml", render_junit(model)}}) {
    if (auto written = write_file_atomically(out_dir / name, text); !written) {
      return written;
    }
  }
  return true;
}

} // namespace loadmatrix
