// The loadmatrix binary as users run it: exit codes and error messages.
#include "testing/test_envs.h"
#include "util/json_file.h"
#include "util/process.h"

#include <fstream>
#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

ProcessResult loadmatrix_cli(std::vector<std::string> args) {
  ProcessSpec spec;
  spec.argv = {LOADMATRIX_CLI};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = std::chrono::minutes(5);
  SystemProcessRunner runner;
  return runner.run(spec);
}

} // namespace

TEST(CliTest, EnvsListShowsTheVersionsEachEnvReportsOfItself) {
  ProcessResult result = loadmatrix_cli({"envs", "list", "--json"});
  ASSERT_TRUE(result.succeeded()) << result.describe() << result.stderr_text;
  Json listing = parse_json(result.stdout_text, "envs list").value();
  std::map<std::string, Json> rows;
  for (const auto& row : listing.at("envs")) {
    rows[row.at("name")] = row;
  }
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& [name, row] : rows) {
    EXPECT_EQ(row.at("status"), "ready") << name;
  }
  EXPECT_EQ(rows["bookworm"].at("torch").get<std::string>().substr(0, 5), "1.13.");
  EXPECT_EQ(rows["trixie"].at("torch").get<std::string>().substr(0, 6), "2.6.0+");
  EXPECT_EQ(rows["sid"].at("torch").get<std::string>().substr(0, 7), "2.14.1+");
  EXPECT_EQ(rows["bookworm"].at("python").get<std::string>().substr(0, 5), "3.11.");
  EXPECT_EQ(rows["trixie"].at("python").get<std::string>().substr(0, 5), "3.13.");
  EXPECT_EQ(rows["sid"].at("python").get<std::string>().substr(0, 5), "3.14.");
  EXPECT_EQ(rows["bookworm"].at("weights_only"), "opt-in");
  EXPECT_EQ(rows["trixie"].at("weights_only"), "default");
  EXPECT_EQ(rows["sid"].at("weights_only"), "default");
}

TEST(CliTest, AnUnknownEnvNameIsAnErrorListingTheKnownOnes) {
  ProcessResult result = loadmatrix_cli({"envs", "list", "bullseye"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.stderr_text.find("loadmatrix: error: "), std::string::npos);
  EXPECT_NE(result.stderr_text.find("default.json: no env named 'bullseye' (the matrix has: "
                                    "bookworm, trixie, sid)"),
            std::string::npos)
      << result.stderr_text;
}

TEST(CliTest, AMalformedMatrixIsNamedWithLineAndColumn) {
  test_support::TempDir dir;
  auto matrix = dir.path() / "broken.json";
  std::ofstream(matrix) << "{\n  \"schema\": \"loadmatrix.matrix/1\",\n  \"envs\": [,]\n}\n";
  ProcessResult result = loadmatrix_cli({"--matrix", matrix.string(), "envs", "list"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.stderr_text.find(matrix.string() + ":3:12: invalid JSON"), std::string::npos)
      << result.stderr_text;
}

TEST(CliTest, AMissingChrootIsReportedWithHowToProvisionIt) {
  test_support::TempDir dir;
  auto matrix = dir.path() / "ghost.json";
  std::ofstream(matrix) << R"({"schema": "loadmatrix.matrix/1",
    "envs": [{"name": "ghost", "kind": "debian", "suite": "trixie"}]})";
  auto checkpoint = dir.path() / "x.pt";
  std::ofstream(checkpoint) << "x";
  ProcessResult result =
      loadmatrix_cli({"--matrix", matrix.string(), "--env-dir", (dir.path() / "cache").string(),
                      "probe", "cpp", "--env", "ghost", checkpoint.string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.stderr_text.find("env ghost: missing in " + (dir.path() / "cache").string() +
                                    " (run: loadmatrix envs provision ghost)"),
            std::string::npos)
      << result.stderr_text;
}

TEST(CliTest, AUsageErrorExitsWithFour) {
  EXPECT_EQ(loadmatrix_cli({"envs", "frobnicate"}).exit_code, 4);
  EXPECT_EQ(loadmatrix_cli({"--no-such-flag", "envs", "list"}).exit_code, 4);
  EXPECT_EQ(loadmatrix_cli({"--help"}).exit_code, 0);
}
