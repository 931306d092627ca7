#include "reports/report_writer.h"

#include "reports/html_report.h"
#include "reports/junit_report.h"
#include "reports/markdown_summary.h"
#include "util/output_file.h"
#include "util/text.h"

namespace loadmatrix {

Expected<void> write_reports(const ResultsModel& model, const std::filesystem::path& out_dir,
                             const std::filesystem::path& assets_dir) {
  if (auto made = prepare_output_dir(out_dir); !made) {
    return made;
  }
  // A destination that cannot be written (say, a directory named junit.xml) costs only its
  // own report.
  std::vector<std::string> failed;
  for (const auto& [name, text] :
       {std::pair<const char*, std::string>{"report.html", render_html_report(model, assets_dir)},
        {"summary.md", render_markdown_summary(model)},
        {"junit.xml", render_junit(model)}}) {
    if (auto written = write_output_file(out_dir / name, text); !written) {
      failed.push_back(written.error().message);
    }
  }
  if (!failed.empty()) {
    return Error{join(failed, "; ")};
  }
  return {};
}

} // namespace loadmatrix
