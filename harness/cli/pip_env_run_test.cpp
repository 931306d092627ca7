// The pip env kind for real: matrix/libraries.json's venvs, made by uv from PyPI (scripts/test
// provisions them), two torches and the libraries whose releases moved the weights_only line
// without torch moving: Opacus (clone_module, opacus#690) and Lightning (load_from_checkpoint,
// 2.6.0). One run of the two library scenarios and two recipes, shared by the tests.
#include "cli/resources.h"
#include "envs/env_cache.h"
#include "envs/pip_env.h"
#include "testing/cli_runs.h"
#include "testing/test_envs.h"
#include "util/json_file.h"

#include <gtest/gtest.h>
#include <set>
#include <sys/stat.h>

using namespace loadmatrix;
using test_support::records_by_key;

namespace {

std::string libraries_matrix() {
  return (resources().home / "matrix" / "libraries.json").string();
}

class PipEnvRunTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    out_ = new test_support::TempDir();
    ProcessResult run = test_support::run_loadmatrix(
        {"-q", "--matrix", libraries_matrix(), "run", "--cases",
         "opacus_library_clone_module,lightning_listconfig_hparams,plain_tensors,"
         "argparse_namespace",
         "--out", out_->path().string(), "--fail-on", "none"},
        std::chrono::minutes(30));
    run_ok_ = run.succeeded();
    run_log_ = run.describe() + "\n" + run.stderr_text;
    if (run_ok_) {
      records_ = new std::map<std::string, Json>(records_by_key(out_->path() / "results.json"));
    }
  }
  static void TearDownTestSuite() {
    delete records_;
    delete out_;
  }
  void SetUp() override { ASSERT_TRUE(run_ok_) << run_log_; }

  static const Json& record(const std::string& key) {
    static const Json none;
    auto found = records_->find(key);
    return found == records_->end() ? none : found->second;
  }
  static std::string outcome(const std::string& key) {
    return record(key).is_object() ? record(key).value("outcome", "") : "(no record " + key + ")";
  }
  static bool has_verified_fix(const Json& cell, const std::string& kind) {
    for (const auto& fix : cell.value("code_fixes", Json::array())) {
      if (fix.value("kind", "") == kind && fix.value("verified", false)) {
        return true;
      }
    }
    return false;
  }

  static inline test_support::TempDir* out_ = nullptr;
  static inline bool run_ok_ = false;
  static inline std::string run_log_;
  static inline std::map<std::string, Json>* records_ = nullptr;
};

ino_t inode_of(const std::filesystem::path& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? info.st_ino : 0;
}

} // namespace

TEST_F(PipEnvRunTest, EachVenvKeepsItsResolvedSetAndOneTorchIsStoredOnceForAllItsVenvs) {
  EnvCache cache = test_support::test_env_cache();
  std::map<std::string, std::string> torch = {
      {"opacus-1.5.2-torch-2.5", "2.5.1"},  {"opacus-1.5.3-torch-2.5", "2.5.1"},
      {"opacus-1.5.2-torch-2.6", "2.6.0"},  {"opacus-1.5.3-torch-2.6", "2.6.0"},
      {"lightning-2.5-torch-2.6", "2.6.0"}, {"lightning-2.6-torch-2.6", "2.6.0"}};
  std::set<ino_t> torch_26_inodes;
  for (const auto& [env, version] : torch) {
    auto manifest = read_json_file(cache.manifest_path(env)).value_or_throw();
    EXPECT_EQ(manifest.at("kind"), "pip") << env;
    EXPECT_EQ(manifest.at("packages").at("torch").get<std::string>().substr(0, 5), version) << env;
    EXPECT_TRUE(manifest.at("uv").get<std::string>().starts_with("uv ")) << env;
    using Packages = std::map<std::string, std::string>;
    EXPECT_EQ(installed_distributions(cache.venv(env)), manifest.at("packages").get<Packages>())
        << env;
    if (version == "2.6.0") {
      torch_26_inodes.insert(inode_of(cache.venv(env) / "lib" / "python3.11" / "site-packages" /
                                      "torch" / "lib" / "libtorch_cpu.so"));
    }
  }
  EXPECT_EQ(read_json_file(cache.manifest_path("opacus-1.5.2-torch-2.6"))
                .value_or_throw()
                .at("packages")
                .at("opacus"),
            "1.5.2");
  // Four venvs of torch 2.6.0, one copy of its largest library: hard links into the uv cache.
  ASSERT_EQ(torch_26_inodes.size(), 1u);
  EXPECT_NE(*torch_26_inodes.begin(), 0u);
}

TEST_F(PipEnvRunTest, OpacusBreaksOnTorch26AtItsOwnLineNamingResNetAndItsFixedReleasePasses) {
  const std::string scenario = "opacus_library_clone_module|";
  auto key = [&](const std::string& env) { return scenario + env + "|" + env + "|scenario"; };
  EXPECT_EQ(outcome(key("opacus-1.5.2-torch-2.5")), "pass");
  EXPECT_EQ(outcome(key("opacus-1.5.3-torch-2.5")), "pass");
  EXPECT_EQ(outcome(key("opacus-1.5.3-torch-2.6")), "pass");
  EXPECT_EQ(outcome(key("lightning-2.6-torch-2.6")), "skipped");
  EXPECT_EQ(record(key("lightning-2.6-torch-2.6")).value("detail", ""),
            "needs opacus, torchvision, which this env does not have");

  const Json& broken = record(key("opacus-1.5.2-torch-2.6"));
  ASSERT_EQ(outcome(key("opacus-1.5.2-torch-2.6")), "blocked") << dump_json(broken);
  auto blocked = broken.at("blocked_globals").get<std::vector<std::string>>();
  EXPECT_NE(std::find(blocked.begin(), blocked.end(), "torchvision.models.resnet.ResNet"),
            blocked.end())
      << dump_json(broken);
  const Json& site = broken.at("call_site");
  EXPECT_TRUE(site.at("file").get<std::string>().ends_with("opacus/utils/module_utils.py"))
      << dump_json(site);
  EXPECT_EQ(site.at("function"), "clone_module");
  EXPECT_NE(site.at("code").get<std::string>().find("torch.load(bytesio)"), std::string::npos);
  EXPECT_EQ(site.at("package"), "opacus");
  EXPECT_EQ(site.at("package_version"), "1.5.2");
  EXPECT_TRUE(has_verified_fix(broken, "weights_only_false")) << dump_json(broken);
  EXPECT_TRUE(has_verified_fix(broken, "allowlist")) << dump_json(broken);
}

TEST_F(PipEnvRunTest, Lightning260LeavesWeightsOnlyToTorchAndItsListConfigHyperParametersBreak) {
  const std::string scenario = "lightning_listconfig_hparams|";
  auto key = [&](const std::string& env) { return scenario + env + "|" + env + "|scenario"; };
  EXPECT_EQ(outcome(key("lightning-2.5-torch-2.6")), "pass")
      << dump_json(record(key("lightning-2.5-torch-2.6")));
  const Json& broken = record(key("lightning-2.6-torch-2.6"));
  ASSERT_EQ(outcome(key("lightning-2.6-torch-2.6")), "blocked") << dump_json(broken);
  auto blocked = broken.at("blocked_globals").get<std::vector<std::string>>();
  EXPECT_NE(std::find(blocked.begin(), blocked.end(), "omegaconf.listconfig.ListConfig"),
            blocked.end())
      << dump_json(broken);
  EXPECT_EQ(broken.at("call_site").value("package", ""), "lightning");
  EXPECT_EQ(broken.at("call_site").value("package_version", ""), "2.6.0");
  EXPECT_TRUE(has_verified_fix(broken, "weights_only_false")) << dump_json(broken);
  EXPECT_TRUE(has_verified_fix(broken, "allowlist")) << dump_json(broken);
  EXPECT_EQ(outcome(key("opacus-1.5.2-torch-2.6")), "skipped");
}

// What a library's call site and a pip env add to results.json and audit.json (package,
// package_version, packages, kind "pip") is what their schemas allow.
TEST_F(PipEnvRunTest, ResultsWithLibraryCallSitesFollowTheirSchema) {
  ProcessResult checked =
      test_support::validate_against_schema("results", {out_->path() / "results.json"});
  EXPECT_EQ(checked.exit_code, 0) << checked.stdout_text << checked.stderr_text;
}

TEST_F(PipEnvRunTest, TheReportNamesTheLibraryThatChangedBetweenTwoEnvsOnOneTorch) {
  auto summary = read_text_file(out_->path() / "summary.md").value_or_throw();
  EXPECT_NE(summary.find("What differs: lightning 2.5.6 → 2.6.0"), std::string::npos) << summary;
  EXPECT_NE(summary.find("What differs: opacus 1.5.2 → 1.5.3"), std::string::npos) << summary;
  EXPECT_NE(summary.find("opacus 1.5.2: "), std::string::npos) << summary;
  auto html = read_text_file(out_->path() / "report.html").value_or_throw();
  EXPECT_NE(html.find("What differs: lightning 2.5.6 → 2.6.0"), std::string::npos);
}

TEST_F(PipEnvRunTest, TheWeightsOnlyLineMovesBetweenTheTwoTorchesAndTheCppProbeUsesEachWheel) {
  // argparse.Namespace: loads by default on 2.5.1 (weights_only opt-in), blocked on 2.6.0.
  EXPECT_EQ(outcome("argparse_namespace|opacus-1.5.2-torch-2.5|opacus-1.5.2-torch-2.5|default"),
            "pass");
  EXPECT_EQ(outcome("argparse_namespace|opacus-1.5.2-torch-2.5|opacus-1.5.2-torch-2.6|default"),
            "blocked");
  // torch::pickle_load through the probe built against each wheel's own libtorch_cpu.
  for (const char* env : {"opacus-1.5.2-torch-2.5", "lightning-2.6-torch-2.6"}) {
    std::string key = std::string("plain_tensors|") + env + "|" + env + "|cpp_pickle";
    EXPECT_EQ(outcome(key), "pass") << dump_json(record(key));
  }
}

TEST_F(PipEnvRunTest, AuditOfAnEnvsInstalledPackagesNamesOpacussLineWithItsVersion) {
  test_support::TempDir dir;
  auto json = dir.path() / "audit.json";
  ProcessResult audit =
      test_support::run_loadmatrix({"-q", "--matrix", libraries_matrix(), "audit", "--envs",
                                    "opacus-1.5.2-torch-2.5,opacus-1.5.2-torch-2.6", "--installed",
                                    "opacus-1.5.2-torch-2.6", "--json", json.string()});
  ASSERT_EQ(audit.termination, Termination::exited) << audit.describe() << audit.stderr_text;
  Json document = read_json_file(json).value_or_throw();
  const Json* found = nullptr;
  for (const auto& call : document.at("call_sites")) {
    if (call.at("path").get<std::string>().ends_with("opacus/utils/module_utils.py") &&
        call.at("callee") == "torch.load") {
      found = &call;
    }
  }
  ASSERT_NE(found, nullptr) << audit.stdout_text;
  EXPECT_EQ(found->at("package"), "opacus");
  EXPECT_EQ(found->at("package_version"), "1.5.2");
  EXPECT_EQ(found->at("weights_only"), "omitted");
  EXPECT_FALSE(found->at("findings").empty()) << dump_json(*found);
  EXPECT_NE(audit.stdout_text.find("opacus 1.5.2: "), std::string::npos) << audit.stdout_text;
  ProcessResult checked = test_support::validate_against_schema("audit", {json});
  EXPECT_EQ(checked.exit_code, 0) << checked.stdout_text << checked.stderr_text;
}

// The audit follows the scenario's `Segmenter.load_from_checkpoint(path)` into each env's own
// Lightning (--follow-installed): through 2.5.6 the chain ends at torch.load with a forced
// weights_only=False, through 2.6.0 at one passing None on to torch 2.6's weights-only default.
// The same line, two outcomes, as the run observed them: it loads on 2.5.6 and is blocked on
// 2.6.0. The SARIF carries each chain as a code flow and passes Microsoft's multitool.
TEST_F(PipEnvRunTest, TheAuditFollowsLoadFromCheckpointIntoEachLightningReleaseAsTheRunSawIt) {
  test_support::TempDir dir;
  auto json = dir.path() / "audit.json";
  auto sarif = dir.path() / "audit.sarif";
  auto scenario = resources().home / "cases" / "scenarios" / "lightning_listconfig_hparams.py";
  ProcessResult audit = test_support::run_loadmatrix(
      {"-q", "--matrix", libraries_matrix(), "audit", scenario.string(), "--envs",
       "lightning-2.5-torch-2.6,lightning-2.6-torch-2.6", "--follow-installed", "--json",
       json.string(), "--sarif", sarif.string()});
  ASSERT_EQ(audit.exit_code, 1) << audit.describe() << audit.stderr_text;
  Json document = read_json_file(json).value_or_throw();
  std::map<std::string, const Json*> rows; // by the Lightning release the chain goes through
  for (const auto& call : document.at("call_sites")) {
    if (call.at("code").get<std::string>().starts_with("Segmenter.load_from_checkpoint(path)") &&
        call.at("callee") == "torch.load" && !call.at("chain").empty() &&
        call.at("chain").back().at("path").get<std::string>().ends_with(
            "lightning/fabric/utilities/cloud_io.py")) {
      rows[call.at("chain").back().value("package_version", "")] = &call;
    }
  }
  ASSERT_EQ(rows.size(), 2u) << audit.stdout_text;
  auto effective = [](const Json& call, const std::string& env) {
    for (const auto& result : call.at("results")) {
      if (result.at("env") == env) {
        return result.at("effective").get<std::string>();
      }
    }
    return std::string("(no result)");
  };
  auto rules = [](const Json& call) {
    std::set<std::string> out;
    for (const auto& finding : call.at("findings")) {
      out.insert(finding.at("rule").get<std::string>());
    }
    return out;
  };
  const Json& forced = *rows.at("2.5.6");
  EXPECT_EQ(forced.at("via"), "lightning.pytorch.core.module.LightningModule.load_from_checkpoint");
  EXPECT_EQ(forced.at("weights_only"), "false");
  EXPECT_TRUE(forced.at("weights_only_keyword").is_null()); // 2.5.6 has no argument for it
  EXPECT_EQ(effective(forced, "lightning-2.5-torch-2.6"), "full");
  EXPECT_EQ(effective(forced, "lightning-2.6-torch-2.6"), "not_reached");
  EXPECT_EQ(forced.at("chain").size(),
            3u); // load_from_checkpoint -> _load_from_checkpoint -> _load
  const Json& left = *rows.at("2.6.0");
  EXPECT_EQ(left.at("weights_only"), "none");
  EXPECT_EQ(left.at("weights_only_keyword"), "weights_only");
  EXPECT_EQ(effective(left, "lightning-2.6-torch-2.6"), "weights_only");
  EXPECT_EQ(effective(left, "lightning-2.5-torch-2.6"), "not_reached");
  EXPECT_TRUE(rules(left).count("LMA010")) << dump_json(left);
  std::string fix;
  for (const auto& finding : left.at("findings")) {
    if (finding.at("rule") == "LMA010") {
      fix = finding.at("suggestion").get<std::string>();
    }
  }
  EXPECT_NE(fix.find("`Segmenter.load_from_checkpoint(path, weights_only=False)`"),
            std::string::npos)
      << fix;
  // What the run observed at this line: the full unpickler loads the ListConfig, the
  // weights-only one refuses it.
  const std::string key = "lightning_listconfig_hparams|";
  EXPECT_EQ(outcome(key + "lightning-2.5-torch-2.6|lightning-2.5-torch-2.6|scenario"), "pass");
  EXPECT_EQ(outcome(key + "lightning-2.6-torch-2.6|lightning-2.6-torch-2.6|scenario"), "blocked");

  ProcessResult checked = test_support::validate_against_schema("audit", {json});
  EXPECT_EQ(checked.exit_code, 0) << checked.stdout_text << checked.stderr_text;
  Json log = read_json_file(sarif).value_or_throw();
  size_t flows = 0;
  for (const auto& result : log["runs"][0]["results"]) {
    if (result.contains("codeFlows")) {
      ++flows;
      EXPECT_GE(result["codeFlows"][0]["threadFlows"][0]["locations"].size(), 2u);
    }
  }
  EXPECT_GT(flows, 0u);
  auto validation = dir.path() / "validation.sarif";
  std::string command = std::string(LOADMATRIX_SOURCE_DIR) + "/scripts/sarif-multitool validate " +
                        sarif.string() + " -o " + validation.string() + " > /dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  EXPECT_TRUE(read_json_file(validation).value_or_throw()["runs"][0]["results"].empty());
}
