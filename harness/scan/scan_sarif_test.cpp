// A scan as SARIF: one result per finding, at the file.
#include "scan/scan_sarif.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

ScannedFile checkpoint(const std::string& relative) {
  ScannedFile file;
  file.scan.input = {"/repo/" + relative, relative, "/repo", relative, "", ""};
  file.scan.status = FileStatus::checkpoint;
  file.loadable = true;
  return file;
}

ScanCell cell(const std::string& env, ScanMode mode, Outcome outcome,
              std::vector<std::string> blocked = {}) {
  ScanCell cell;
  cell.env = env;
  cell.mode = mode;
  LoadPrediction prediction;
  prediction.outcome = outcome;
  prediction.blocked_globals = std::move(blocked);
  prediction.detail = "ValueError: too many values to unpack (expected 3)";
  cell.predicted = prediction;
  return cell;
}

std::vector<std::string> rule_ids(const Json& sarif) {
  std::vector<std::string> ids;
  for (const auto& result : sarif["runs"][0]["results"]) {
    ids.push_back(result["ruleId"]);
  }
  return ids;
}

} // namespace

TEST(ScanSarifTest, EachFindingIsAResultAtTheFileWithWhereAndTheFix) {
  ScanResult result;
  ScannedFile ns = checkpoint("ckpt/args.pt");
  ns.cells.push_back(cell("bookworm", ScanMode::weights_only, Outcome::pass));
  ns.cells.push_back(
      cell("trixie", ScanMode::version_default, Outcome::blocked, {"argparse.Namespace"}));
  ns.cells.back().fix = ScanFix{{"argparse.Namespace"}, true, ""};
  ns.object_paths["argparse.Namespace"] = "[\"args\"]";
  // numpy 2's dtype classes are placed where the numpy.dtype that makes them sits.
  ScannedFile rng = checkpoint("ckpt/rng_state.pth");
  rng.cells.push_back(
      cell("sid", ScanMode::weights_only, Outcome::blocked, {"numpy.dtypes.UInt32DType"}));
  rng.object_paths["numpy.dtype"] = "[\"numpy\"][1]";
  ScannedFile payload = checkpoint("ckpt/evil.pt");
  payload.scan.dangerous = {"posix.system"};
  payload.object_paths["posix.system"] = "";
  ScannedFile sparse = checkpoint("ckpt/sparse.pt");
  sparse.cells.push_back(cell("bookworm", ScanMode::version_default, Outcome::error));
  ScannedFile broken = checkpoint("ckpt/truncated.pt");
  broken.scan.status = FileStatus::error;
  broken.scan.error = "archive/data.pkl: truncated at byte 12";
  ScannedFile fifo = checkpoint("ckpt/pipe.pt");
  fifo.scan.status = FileStatus::skipped;
  fifo.scan.error = "a FIFO: not opened";
  result.files = {ns, rng, payload, sparse, broken, fifo};

  Json sarif = scan_sarif(result, "/repo", "file:///loadmatrix/README.md");
  EXPECT_EQ(sarif["version"], "2.1.0");
  const Json& run = sarif["runs"][0];
  EXPECT_EQ(run["tool"]["driver"]["rules"].size(), 4u);
  EXPECT_EQ(rule_ids(sarif),
            (std::vector<std::string>{"LMS002", "LMS002", "LMS001", "LMS003", "LMS004"}));
  const Json& blocked = run["results"][0];
  EXPECT_EQ(blocked["level"], "warning");
  std::string text = blocked["message"]["text"];
  EXPECT_NE(text.find("trixie (default): argparse.Namespace (at [\"args\"])"), std::string::npos)
      << text;
  EXPECT_NE(text.find("verified by loading it on trixie"), std::string::npos) << text;
  EXPECT_EQ(blocked["properties"]["loads"]["bookworm (weights_only)"], "pass");
  const Json& location = blocked["locations"][0]["physicalLocation"]["artifactLocation"];
  EXPECT_EQ(location["uri"], "ckpt/args.pt");
  EXPECT_EQ(location["uriBaseId"], "SRCROOT");
  std::string dtype = run["results"][1]["message"]["text"];
  EXPECT_NE(dtype.find("numpy.dtypes.UInt32DType (at [\"numpy\"][1])"), std::string::npos) << dtype;
  const Json& dangerous = run["results"][2];
  EXPECT_EQ(dangerous["level"], "error");
  EXPECT_EQ(dangerous["properties"]["global"], "posix.system");
  EXPECT_NE(dangerous["message"]["text"].get<std::string>().find("the saved object itself"),
            std::string::npos);
  EXPECT_NE(run["results"][3]["message"]["text"].get<std::string>().find("too many values"),
            std::string::npos);
  EXPECT_NE(run["results"][4]["message"]["text"].get<std::string>().find("truncated at byte 12"),
            std::string::npos);
  // A file never opened is a notification, not a finding about the file.
  const Json& notes = run["invocations"][0]["toolExecutionNotifications"];
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0]["message"]["text"].get<std::string>().find("FIFO"), std::string::npos);
}
