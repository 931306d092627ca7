// scan.json's text is made one file at a time; it must still be exactly what Json::dump(2)
// prints for the same document, so readers and diffs see no difference.
#include "scan/scan_result.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

ScannedFile scanned(const std::string& path, FileStatus status) {
  ScannedFile file;
  file.scan.input.display = path;
  file.scan.status = status;
  if (status == FileStatus::checkpoint) {
    file.scan.format = CheckpointFormat::torch_zip;
  }
  file.scan.error = status == FileStatus::error ? "offset 3: \"bad\"\nline two" : "";
  file.scan.globals.push_back({"collections.OrderedDict",
                               "collections.OrderedDict",
                               "collections",
                               {{UseKind::reduce, 7}},
                               2,
                               false});
  file.scan.opcodes.emplace(0x80, 0);
  ScanCell cell;
  cell.env = "trixie";
  cell.mode = ScanMode::weights_only;
  LoadPrediction blocked;
  blocked.outcome = Outcome::blocked;
  blocked.blocked_globals = {"argparse.Namespace"};
  blocked.detail = "argparse.Namespace is not allowlisted";
  cell.predicted = blocked;
  cell.fix = ScanFix{{"argparse.Namespace"}, false, "predicted"};
  file.cells.push_back(cell);
  return file;
}

} // namespace

TEST(ScanResultTest, TheTextIsWhatDumpPrintsForTheSameDocument) {
  ScanResult none;
  std::string text = none.to_json_text({});
  EXPECT_EQ(text, Json::parse(text).dump(2) + "\n");
  EXPECT_EQ(Json::parse(text)["files"], Json::array());

  ScanResult result;
  result.envs = Json::array({{{"name", "trixie"}, {"torch", "2.6.0"}}});
  result.static_seconds = 0.25;
  result.files = {scanned("a.pt", FileStatus::checkpoint), scanned("b\\x80.pt", FileStatus::error),
                  scanned("c.pt", FileStatus::not_a_checkpoint)};
  text = result.to_json_text({{"missing_envs", Json::array({"sid"})}});
  Json document = Json::parse(text);
  EXPECT_EQ(text, document.dump(2) + "\n");
  EXPECT_EQ(document["missing_envs"], Json::array({"sid"}));
  EXPECT_EQ(document["static_seconds"], 0.25);
  ASSERT_EQ(document["files"].size(), 3u);
  EXPECT_EQ(document["files"][1]["error"], "offset 3: \"bad\"\nline two");
  EXPECT_EQ(document["files"][0]["globals"][0]["uses"], Json::array({"REDUCE"}));
  EXPECT_EQ(document["files"][0]["results"][0]["fix"]["allowlist"],
            Json::array({"argparse.Namespace"}));
}

TEST(ScanResultTest, FilesPrintedOnManyThreadsKeepTheirOrder) {
  ScanResult result;
  for (int i = 0; i < 200; ++i) {
    result.files.push_back(scanned("f" + std::to_string(i) + ".pt", FileStatus::checkpoint));
  }
  std::string one_thread = result.to_json_text({}, 1);
  EXPECT_EQ(result.to_json_text({}, 4), one_thread);
  Json document = Json::parse(one_thread);
  ASSERT_EQ(document["files"].size(), 200u);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(document["files"][i]["path"], "f" + std::to_string(i) + ".pt");
  }
}

TEST(ScanResultTest, EveryFieldOfAVerifiedScanPrintsAsDumpPrintsIt) {
  ScannedFile file = scanned("dir/caf\xc3\xa9 \"x\".pt", FileStatus::checkpoint);
  file.scan.dangerous = {"posix.system"};
  file.scan.members = {"archive/data.pkl"};
  file.scan.bytes = 1ull << 40;
  file.scan.protocol = 2;
  file.scan.opcodes.emplace('R', 9);
  ObservedLoad observed;
  observed.outcome = Outcome::blocked;
  observed.reason = file.cells[0].predicted->reason;
  observed.blocked_globals = {"argparse.Namespace"};
  observed.error_type = "UnpicklingError";
  observed.message = "Weights only load failed.\n\tUnsupported global: \x01\\ \xe2\x82\xac";
  observed.duration_ms = 1234;
  file.cells[0].observed = observed;
  file.cells[0].fix->verified = true;
  ScanCell unread;
  unread.env = "sid";
  unread.mode = ScanMode::version_default;
  file.cells.push_back(unread);
  ScannedFile empty;
  empty.scan.input.display = "empty.pt";
  empty.scan.status = FileStatus::not_a_checkpoint;

  ScanResult result;
  result.verified = true;
  result.files = {file, empty};
  std::string text = result.to_json_text({});
  Json document = Json::parse(text);
  EXPECT_EQ(text, document.dump(2) + "\n");
  EXPECT_EQ(document["files"][0]["results"][0]["observation"]["message"], observed.message);
  EXPECT_EQ(document["files"][0]["results"][0]["agrees"], true);
  EXPECT_TRUE(document["files"][0]["results"][1]["prediction"].is_null());
  EXPECT_EQ(document["files"][1]["globals"], Json::array());
}

// A cell no env could answer ("not predicted", nothing observed) is neither a pass nor a
// finding: a file whose every bare load is such a cell says so, and one with a failing cell
// beside it still breaks.
TEST(ScanResultTest, AFileNoEnvCouldAnswerForIsNotPredictedNotLoadsNorBreaks) {
  ScannedFile file = scanned("old.pt", FileStatus::checkpoint);
  file.cells.clear();
  auto bare = [](const std::string& env, Outcome outcome) {
    ScanCell cell;
    cell.env = env;
    cell.mode = ScanMode::version_default;
    cell.predicted = LoadPrediction{};
    cell.predicted->outcome = outcome;
    return cell;
  };
  file.cells.push_back(bare("torch-2.5", Outcome::skipped));
  file.cells.push_back(bare("torch-2.6", Outcome::skipped));
  EXPECT_EQ(file.verdict(), FileVerdict::not_predicted);
  EXPECT_FALSE(is_finding(file.verdict()));
  EXPECT_STREQ(file_verdict_id(file.verdict()), "not_predicted");
  file.cells.push_back(bare("bullseye", Outcome::pass));
  EXPECT_EQ(file.verdict(), FileVerdict::loads);
  file.cells.push_back(bare("sid", Outcome::error));
  EXPECT_EQ(file.verdict(), FileVerdict::breaks);
}
