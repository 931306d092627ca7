#include "cli/resources.h"
#include "matrix/matrix.h"
#include "probes/env_facts.h"
#include "testing/cli_runs.h"
#include "testing/test_envs.h"
#include "util/json_file.h"

#include <fstream>
#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

std::filesystem::path shipped_facts() {
  return resources().home / "matrix" / "facts" / "releases.json";
}

Json shipped_document() {
  return read_json_file(shipped_facts()).value_or_throw();
}

std::string error_reading(const test_support::TempDir& dir, const std::string& text) {
  auto file = dir.path() / "facts.json";
  std::ofstream(file) << text;
  auto facts = read_facts_file(file);
  return facts ? std::string() : facts.error().message;
}

} // namespace

TEST(EnvFactsTest, TheShippedFactsCoverEveryReleaseOfTheReleasesMatrixAndFollowTheirSchema) {
  auto facts = read_facts_file(shipped_facts());
  ASSERT_TRUE(facts) << facts.error().message;
  Matrix releases = load_matrix(resources().home / "matrix" / "releases.json");
  for (const auto& spec : releases.envs) {
    const EnvFacts* found = facts->find(spec);
    ASSERT_NE(found, nullptr) << spec.name << ": no facts with this spec's identity";
    EXPECT_FALSE(found->manifest.fingerprint.torch.empty()) << spec.name;
    EXPECT_FALSE(found->globals.by_key.empty()) << spec.name;
    EXPECT_EQ(found->manifest.fingerprint.version, kFingerprintVersion)
        << spec.name << ": measured by an older fingerprint.py; export the facts again";
  }
  // The default matrix's envs are releases too: a fresh install predicts all of them.
  for (const auto& spec : load_matrix(resources().home / "matrix" / "default.json").envs) {
    EXPECT_NE(facts->find(spec), nullptr) << spec.name;
  }
  ProcessResult valid = test_support::validate_against_schema("facts", {shipped_facts()});
  EXPECT_TRUE(valid.succeeded()) << valid.stdout_text << valid.stderr_text;
}

TEST(EnvFactsTest, AnEnvWhoseSpecDiffersFromTheMeasuredOneHasNoFacts) {
  auto facts = read_facts_file(shipped_facts()).value_or_throw();
  Matrix releases = load_matrix(resources().home / "matrix" / "releases.json");
  ASSERT_NE(releases.find_env("torch-2.6"), nullptr);
  EnvSpec spec = *releases.find_env("torch-2.6");
  ASSERT_NE(facts.find(spec), nullptr);
  EnvSpec other = spec;
  other.requirements = {"torch==2.6.0", "numpy<2"};
  EXPECT_EQ(facts.find(other), nullptr); // another numpy: its facts were not measured
  EnvSpec renamed = spec;
  renamed.name = "mine";
  EXPECT_EQ(facts.find(renamed), nullptr);
}

TEST(EnvFactsTest, AWrittenFileReadsBackTheSame) {
  test_support::TempDir dir;
  auto facts = read_facts_file(shipped_facts()).value_or_throw();
  auto copy = dir.path() / "copy.json";
  ASSERT_TRUE(write_json_file(copy, facts.to_json()));
  auto again = read_facts_file(copy);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->to_json(), facts.to_json());
}

TEST(EnvFactsTest, ABadFileIsAnErrorNamingTheFileAndTheField) {
  test_support::TempDir dir;
  std::string file = (dir.path() / "facts.json").string();
  auto named = [&](const std::string& error, const std::string& field) {
    EXPECT_NE(error.find(file), std::string::npos) << error;
    EXPECT_NE(error.find(field), std::string::npos) << error;
  };
  named(error_reading(dir, "{not json"), "facts.json");
  named(error_reading(dir, R"({"schema": "loadmatrix.facts/9", "created": "", "envs": []})"),
        "schema");
  named(error_reading(dir, R"({"schema": "loadmatrix.facts/1", "created": "", "envs": {}})"),
        "envs");

  Json document = shipped_document();
  document["envs"][1]["globals"]["zip|2|argparse|Namespace"] = {{"present", "yes"}};
  named(error_reading(dir, document.dump()), "envs[1].globals");

  document = shipped_document();
  document["envs"][2]["manifest"]["fingerprint"].erase("torch");
  named(error_reading(dir, document.dump()), "envs[2].manifest");

  document = shipped_document();
  document["envs"].push_back(document["envs"][0]);
  named(error_reading(dir, document.dump()), "a second env named");

  document = shipped_document();
  document["envs"][0]["manifest"]["schema"] = 1;
  named(error_reading(dir, document.dump()), "envs[0].manifest");

  document = shipped_document();
  document["envs"][3]["manifest"]["fingerprint"]["fingerprint_version"] = 1;
  named(error_reading(dir, document.dump()), "envs[3].manifest.fingerprint: measured by");
}

TEST(EnvFactsTest, AnswersAboutAModuleThePythonPathProvidesAreNotUsed) {
  test_support::TempDir dir;
  std::filesystem::create_directories(dir.path() / "myproject");
  ResolvedGlobals exported;
  exported.by_key["zip|2|myproject.config|Config"] = {false, "ModuleNotFoundError", ""};
  exported.by_key["zip|2|argparse|Namespace"] = {true, "", "GLOBAL argparse.Namespace"};
  exported.by_key["sparse|torch.sparse_coo|4"] = {true, "", ""};
  ResolvedGlobals used = facts_answers(exported, {dir.path()});
  EXPECT_FALSE(used.by_key.contains("zip|2|myproject.config|Config"));
  EXPECT_TRUE(used.by_key.contains("zip|2|argparse|Namespace"));
  EXPECT_TRUE(used.by_key.contains("sparse|torch.sparse_coo|4"));
  EXPECT_EQ(facts_answers(exported, {}).by_key.size(), 3u);
}
