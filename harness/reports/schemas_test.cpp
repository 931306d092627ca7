// reports/schemas/: the JSON Schemas of loadmatrix's documents hold for what the tool really
// writes (the default run, an audit, the matrices; the corpus scan in scan/corpus_scan_test),
// checked with Debian's python3-jsonschema through scripts/validate-json.
#include "testing/checkpoint_writer.h"
#include "testing/cli_runs.h"
#include "testing/test_envs.h"
#include "util/process.h"

#include <filesystem>
#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

const std::filesystem::path kSource = LOADMATRIX_SOURCE_DIR;

ProcessResult validate(const std::string& schema, const std::vector<std::filesystem::path>& files) {
  return test_support::validate_against_schema(schema, files);
}

} // namespace

TEST(SchemasTest, TheMatricesFollowTheirSchemaAndABadOneIsNamedWhereItIsWrong) {
  ProcessResult shipped = validate(
      "matrix", {kSource / "matrix" / "default.json", kSource / "matrix" / "debian.json",
                 kSource / "matrix" / "releases.json", kSource / "matrix" / "libraries.json",
                 kSource / "matrix" / "extended.json", kSource / "matrix" / "containers.json"});
  EXPECT_EQ(shipped.exit_code, 0) << shipped.stdout_text << shipped.stderr_text;
  test_support::TempDir dir;
  test_support::write_bytes(dir.path() / "bad.json",
                            R"({"schema": "loadmatrix.matrix/1", "envs": [)"
                            R"({"name": "x", "kind": "docker-ish"}]})");
  ProcessResult bad = validate("matrix", {dir.path() / "bad.json"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.stdout_text.find("bad.json: at /envs/0"), std::string::npos) << bad.stdout_text;
}

TEST(SchemasEnvTest, TheDefaultRunsResultsAndAnAuditFollowTheirSchemas) {
  for (const auto& name : test_support::default_env_names()) {
    test_support::open_test_env(name);
  }
  test_support::TempDir dir;
  ProcessResult run = test_support::run_loadmatrix(
      {"run", "--out", (dir.path() / "run").string(), "--fail-on", "none"},
      std::chrono::minutes(15));
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  ProcessResult results = validate(
      "results", {dir.path() / "run" / "results.json", dir.path() / "run" / "records.jsonl"});
  EXPECT_EQ(results.exit_code, 0) << results.stdout_text << results.stderr_text;

  ProcessResult audit = test_support::run_loadmatrix(
      {"audit", (kSource / "cases").string(), "--json", (dir.path() / "audit.json").string(),
       "--results", (dir.path() / "run" / "results.json").string()},
      std::chrono::minutes(5));
  ASSERT_EQ(audit.exit_code, 1) << audit.stderr_text; // the corpus's scenarios have findings
  ProcessResult audited = validate("audit", {dir.path() / "audit.json"});
  EXPECT_EQ(audited.exit_code, 0) << audited.stdout_text << audited.stderr_text;
}
