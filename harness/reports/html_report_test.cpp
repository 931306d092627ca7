// report.html as a reviewer's browser shows it: real headless Chromium, DOM read back.
#include "cli/resources.h"
#include "reports/html_report.h"
#include "reports/report_writer.h"
#include "testing/browser.h"
#include "testing/checkpoint_writer.h"
#include "testing/png_pixels.h"
#include "testing/synthetic_results.h"
#include "testing/test_envs.h"

#include <array>
#include <gtest/gtest.h>
#include <map>
#include <regex>

using namespace loadmatrix;

namespace {

std::string attribute(const std::string& element, const std::string& name) {
  std::smatch match;
  std::regex pattern(" " + name + "=\"([^\"]*)\"");
  return std::regex_search(element, match, pattern) ? match[1].str() : "";
}

std::vector<std::string> opening_tags(const std::string& html, const std::string& start) {
  std::vector<std::string> tags;
  for (size_t at = 0; (at = html.find(start, at)) != std::string::npos; ++at) {
    tags.push_back(html.substr(at, html.find('>', at) - at + 1));
  }
  return tags;
}

class HtmlReportTest : public ::testing::Test {
protected:
  void SetUp() override {
    // Over 10,000 cells: the report must stay usable at the size nightly runs reach.
    records_ = test_support::synthetic_records(400, [](size_t i) { return i % 3 == 0; });
    model_ = std::make_unique<ResultsModel>(
        build_results_model(test_support::synthetic_header(), records_, {}));
    ASSERT_GE(model_->records.size(), 10000u);
    ASSERT_TRUE(write_reports(*model_, dir_.path(), resources().report_assets));
    url_ = "file://" + (dir_.path() / "report.html").string();
  }
  test_support::TempDir dir_;
  std::vector<Record> records_;
  std::unique_ptr<ResultsModel> model_;
  std::string url_;
};

} // namespace

TEST_F(HtmlReportTest, VersionChangeSectionsMatchTheResults) {
  ProcessResult dom = test_support::browser_dom(url_);
  ASSERT_TRUE(dom.succeeded()) << dom.describe() << dom.stderr_text;
  auto sections = opening_tags(dom.stdout_text, "<section class=\"change\"");
  ASSERT_EQ(sections.size(), model_->changes.size());
  for (size_t i = 0; i < sections.size(); ++i) {
    const VersionChange& change = model_->changes[i];
    EXPECT_EQ(attribute(sections[i], "data-from"), change.from.name);
    EXPECT_EQ(attribute(sections[i], "data-to"), change.to.name);
    EXPECT_EQ(attribute(sections[i], "data-regressions"),
              std::to_string(change.regressions.size()));
    EXPECT_EQ(attribute(sections[i], "data-fixes"), std::to_string(change.fixes.size()));
  }
  EXPECT_EQ(model_->changes[0].regressions.size(), 134u * 3);
  auto causes = opening_tags(dom.stdout_text, "<details class=\"cause\"");
  ASSERT_EQ(causes.size(), 7u); // pkg.Class0..6
  EXPECT_EQ(attribute(causes[0], "data-cause"), "pkg.Class0");
  EXPECT_NE(dom.stdout_text.find("data-kind=\"allowlist\" data-verified=\"true\""),
            std::string::npos);
  // With every filter empty the script shows every cell.
  EXPECT_NE(dom.stdout_text.find("data-visible-cells=\"" + std::to_string(records_.size()) + "\""),
            std::string::npos);
}

// Headless Chromium: `ctest -L env`.
class HtmlReportBrowserTest : public HtmlReportTest {};

TEST_F(HtmlReportBrowserTest, AFilterInTheUrlReproducesTheView) {
  ProcessResult dom =
      test_support::browser_dom(url_ + "?outcome=blocked&mode=default&producer=old");
  ASSERT_TRUE(dom.succeeded()) << dom.stderr_text;
  size_t expected = 0;
  for (const auto& record : records_) {
    expected += record.outcome == Outcome::blocked && record.mode == LoaderMode::default_load &&
                record.producer == "old";
  }
  ASSERT_GT(expected, 0u);
  EXPECT_NE(dom.stdout_text.find("data-visible-cells=\"" + std::to_string(expected) + "\""),
            std::string::npos);
  // The cell table's estimated height, until it is laid out, is scaled to the rows shown.
  std::smatch estimate;
  ASSERT_TRUE(std::regex_search(dom.stdout_text, estimate,
                                std::regex("id=\"all-cells\" style=\"contain-intrinsic-size: "
                                           "auto (\\d+)px")));
  // Unfiltered, it is at least 27 px for each of the 10,800 rows.
  EXPECT_LT(std::stoul(estimate[1].str()), expected * 27 * 3);
  EXPECT_GE(std::stoul(estimate[1].str()), expected * 27);
  EXPECT_NE(dom.stdout_text.find(std::to_string(expected) + " of " +
                                 std::to_string(records_.size()) + " cells shown"),
            std::string::npos);
  // Rows outside the filter are hidden, not removed.
  EXPECT_NE(dom.stdout_text.find("data-mode=\"weights_only\" data-outcome=\"blocked\""),
            std::string::npos);

  auto png = test_support::test_output_dir() / "report-filtered.png";
  std::filesystem::remove(png);
  ProcessResult shot =
      test_support::browser_screenshot(url_ + "?outcome=blocked&mode=default", png);
  ASSERT_TRUE(shot.succeeded()) << shot.stderr_text;
  EXPECT_GT(std::filesystem::file_size(png), 10000u);
}

TEST_F(HtmlReportTest, IsSelfContainedAndReadableWithoutJavascript) {
  std::string html = read_text_file(dir_.path() / "report.html").value();
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  // The headline is plain HTML, before any script.
  auto headline = html.find("id=\"headline\"");
  ASSERT_NE(headline, std::string::npos);
  EXPECT_LT(headline, html.find("<script>"));
  EXPECT_NE(html.find(std::to_string(model_->changes[0].regressions.size()) + " regressions"),
            std::string::npos);
  // Messages are escaped.
  EXPECT_NE(html.find("&lt;&amp;&quot;&#39;&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<&\"'>"), std::string::npos);
}

TEST_F(HtmlReportTest, LargeTablesCarryAnEstimatedHeightUntilLaidOut) {
  std::string html = read_text_file(dir_.path() / "report.html").value();
  // The browser lays the cell table and the grids out only near the screen (report.css); until
  // then each holds an estimate of its height, at least a line per row, so the scrollbar is right.
  EXPECT_NE(html.find("content-visibility: auto"), std::string::npos);
  std::smatch match;
  ASSERT_TRUE(std::regex_search(
      html, match, std::regex("id=\"all-cells\" style=\"contain-intrinsic-size: auto (\\d+)px\"")));
  EXPECT_GE(std::stoul(match[1].str()), model_->records.size() * 27);
  EXPECT_EQ(
      opening_tags(html, "<section class=\"grid-section\" style=\"contain-intrinsic-size").size(),
      model_->modes.size());
}

// The picture at the top: per mode and env, the cells that pass, are blocked or fail, as counted
// from the records, and the regressions between versions; drawn with scripts off.
TEST_F(HtmlReportTest, TheChartAtTheTopCountsTheRecords) {
  std::string html = read_text_file(dir_.path() / "report.html").value();
  auto chart = html.find("<figure class=\"outcome-chart\"");
  ASSERT_NE(chart, std::string::npos);
  EXPECT_LT(chart, html.find("id=\"envs\""));
  EXPECT_LT(chart, html.find("<script>"));
  std::map<std::pair<std::string, std::string>, std::array<size_t, 3>> expected;
  for (const auto& record : records_) {
    auto& counts = expected[{loader_mode_id(record.mode), record.consumer}];
    counts[0] += record.outcome == Outcome::pass;
    counts[1] += record.outcome == Outcome::blocked;
    counts[2] += record.outcome == Outcome::error || record.outcome == Outcome::crash ||
                 record.outcome == Outcome::timeout || record.outcome == Outcome::mismatch;
  }
  auto bars = opening_tags(html, "<g class=\"bar\"");
  EXPECT_EQ(bars.size(), expected.size());
  for (const auto& bar : bars) {
    auto counts = expected[{attribute(bar, "data-mode"), attribute(bar, "data-env")}];
    EXPECT_EQ(attribute(bar, "data-pass"), std::to_string(counts[0])) << bar;
    EXPECT_EQ(attribute(bar, "data-blocked"), std::to_string(counts[1])) << bar;
    EXPECT_EQ(attribute(bar, "data-failed"), std::to_string(counts[2])) << bar;
  }
  size_t marked = 0;
  for (const auto& mark : opening_tags(html, "<g class=\"regressions\"")) {
    marked += std::stoul(attribute(mark, "data-regressions"));
  }
  size_t regressions = 0;
  for (const auto& change : model_->changes) {
    regressions += change.regressions.size();
  }
  EXPECT_EQ(marked, regressions);
}

TEST_F(HtmlReportBrowserTest, TheChartIsDrawnWithJavascriptOff) {
  // The page as a browser with scripts off shows it: the same file without its script.
  // (Headless Chromium takes no screenshot with scripts disabled, and --disable-javascript
  // does not disable them; measured with Chromium 156.)
  std::string html = read_text_file(dir_.path() / "report.html").value();
  auto script = html.find("<script>");
  ASSERT_NE(script, std::string::npos);
  html.erase(script, html.find("</script>", script) + 9 - script);
  test_support::write_bytes(dir_.path() / "report-no-js.html", html);
  auto png = test_support::test_output_dir() / "report-chart-no-js.png";
  std::filesystem::remove(png);
  ProcessResult shot = test_support::browser_screenshot(
      "file://" + (dir_.path() / "report-no-js.html").string(), png);
  ASSERT_TRUE(shot.succeeded()) << shot.stderr_text;
  auto image = test_support::read_png(png);
  ASSERT_TRUE(image) << image.error().message;
  EXPECT_EQ(image->width, 1400u);
  // The chart's pass, blocked and unsupported colours fill bars in the first screenful: far
  // more pixels of each than the legend's 12x12 swatch (these records have no other failure).
  EXPECT_GT(test_support::count_pixels(*image, 0x43a047, 0, 700), 2000u);
  EXPECT_GT(test_support::count_pixels(*image, 0xf9a825, 0, 700), 2000u);
  EXPECT_GT(test_support::count_pixels(*image, 0xcfcfcf, 0, 700), 1000u);
}

// The env table says what a torch without the argument does, not "?": torch 1.7's torch.load has
// no weights_only, which its summary records (and older results files record as a null default).
TEST_F(HtmlReportTest, TheEnvTableSaysATorchWithoutWeightsOnlyHasNone) {
  Json header = test_support::synthetic_header();
  for (auto& env : header.at("envs")) {
    if (env.at("name") == "old") {
      env["has_weights_only"] = false;
      env["weights_only_default"] = nullptr;
    } else if (env.at("name") == "mid") {
      env["weights_only_default"] = true;
    } // "new": neither recorded, as in a results file from before has_weights_only
  }
  ResultsModel model = build_results_model(header, records_, {});
  test_support::TempDir out;
  ASSERT_TRUE(write_reports(model, out.path(), resources().report_assets));
  std::string html = read_text_file(out.path() / "report.html").value();
  std::string table = html.substr(html.find("id=\"envs\""));
  table = table.substr(0, table.find("</table>"));
  auto row = [&](const std::string& env) {
    size_t at = table.find("<tr data-env=\"" + env + "\"");
    return at == std::string::npos ? std::string() : table.substr(at, table.find("</tr>", at) - at);
  };
  EXPECT_NE(row("old").find("<td>no weights_only</td>"), std::string::npos) << row("old");
  EXPECT_NE(row("new").find("<td>no weights_only</td>"), std::string::npos) << row("new");
  EXPECT_NE(row("mid").find("<td>weights_only=True</td>"), std::string::npos) << row("mid");
  EXPECT_EQ(table.find("<td>?</td>"), std::string::npos);
}
