#include "cli/resources.h"
#include "reports/junit_report.h"
#include "testing/synthetic_results.h"
#include "testing/test_envs.h"
#include "util/output_file.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

TEST(JunitReportTest, ValidatesAgainstTheJunitSchemaWithOneTestcasePerCell) {
  auto records = test_support::synthetic_records(4, [](size_t i) { return i == 1; });
  // What torch and pickles put in messages is not ours to trust: control bytes, bad UTF-8.
  records.front().outcome = Outcome::error;
  records.front().message = std::string("bad \x01\x1b[1mbytes\xff\xfe and \xef\xbf\xbe end");
  records[1].outcome = Outcome::unsupported;
  records[1].detail = "torch.load has no mmap argument";
  ResultsModel model = build_results_model(test_support::synthetic_header(), records, {});
  std::string xml = render_junit(model);

  test_support::TempDir dir;
  ASSERT_TRUE(write_output_file(dir.path() / "junit.xml", xml));
  SystemProcessRunner runner;
  ProcessSpec lint;
  lint.argv = {"xmllint", "--noout", "--schema",
               (resources().home / "reports" / "junit.xsd").string(),
               (dir.path() / "junit.xml").string()};
  ProcessResult result = runner.run(lint);
  EXPECT_TRUE(result.succeeded()) << result.stderr_text;

  size_t testcases = 0;
  for (size_t at = 0; (at = xml.find("<testcase ", at)) != std::string::npos; ++at) {
    ++testcases;
  }
  EXPECT_EQ(testcases, records.size());
  EXPECT_NE(xml.find(R"(<testcase classname="case00001" name="mid/default/old")"),
            std::string::npos);
  EXPECT_NE(xml.find(R"(<failure type="blocked" message="blocked: pkg.Class1">)"),
            std::string::npos);
  EXPECT_NE(xml.find(R"(<skipped message="unsupported: torch.load has no mmap argument"/>)"),
            std::string::npos);
  EXPECT_NE(xml.find("bad [1mbytes and  end"), std::string::npos) << "illegal characters kept";
  EXPECT_EQ(xml.find('\x01'), std::string::npos);
}
