#include "reports/junit_report.h"

#include "util/text.h"
#include "util/xml_text.h"

#include <fmt/core.h>
#include <map>

namespace loadmatrix {

std::string render_junit(const ResultsModel& model) {
  // One suite per consumer env, in version order.
  std::map<std::string, std::vector<const Record*>> by_consumer;
  for (const auto& record : model.records) {
    by_consumer[record.consumer].push_back(&record);
  }
  size_t failures = 0;
  size_t skipped = 0;
  double total_seconds = 0;
  std::string suites;
  for (const auto& env : model.envs) {
    const auto& cells = by_consumer[env.name];
    size_t suite_failures = 0;
    size_t suite_skipped = 0;
    double suite_seconds = 0;
    std::string cases;
    for (const Record* record : cells) {
      double seconds = static_cast<double>(record->duration_ms) / 1000.0;
      suite_seconds += seconds;
      cases += fmt::format(R"(    <testcase classname="{}" name="{}/{}/{}" time="{:.3f}">)",
                           xml_escape(record->case_name), xml_escape(record->consumer),
                           xml_escape(loader_mode_id(record->mode)), xml_escape(record->producer),
                           seconds);
      const OutcomeInfo& info = outcome_info(record->outcome);
      if (info.is_failure) {
        ++suite_failures;
        std::string summary =
            record->outcome == Outcome::blocked
                ? "blocked: " + join(record->blocked_globals, ", ")
                : std::string(info.id) + ": " +
                      (record->error_type.empty() ? record->detail : record->error_type);
        std::string body = record->message;
        if (!record->detail.empty()) {
          body += (body.empty() ? "" : "\n") + record->detail;
        }
        cases += fmt::format("\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    ",
                             info.id, xml_escape(summary.substr(0, 500)), xml_escape(body));
      } else if (record->outcome == Outcome::unsupported || record->outcome == Outcome::skipped) {
        ++suite_skipped;
        cases += fmt::format("\n      <skipped message=\"{}: {}\"/>\n    ", info.id,
                             xml_escape(record->detail));
      }
      cases += "</testcase>\n";
    }
    failures += suite_failures;
    skipped += suite_skipped;
    total_seconds += suite_seconds;
    suites += fmt::format(
        "  <testsuite name=\"loadmatrix.{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" "
        "skipped=\"{}\" time=\"{:.3f}\">\n    <properties>\n"
        "      <property name=\"torch\" value=\"{}\"/>\n"
        "      <property name=\"python\" value=\"{}\"/>\n    </properties>\n{}  </testsuite>\n",
        xml_escape(env.name), cells.size(), suite_failures, suite_skipped, suite_seconds,
        xml_escape(env.torch), xml_escape(env.python), cases);
  }
  return fmt::format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<testsuites name=\"loadmatrix\" tests=\"{}\" failures=\"{}\" errors=\"0\" "
                     "skipped=\"{}\" time=\"{:.3f}\">\n{}</testsuites>\n",
                     model.records.size(), failures, skipped, total_seconds, suites);
}

} // namespace loadmatrix
