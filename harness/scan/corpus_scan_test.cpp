// The whole case corpus, saved by each real env, read by the static analyzer and scanned with
// `loadmatrix scan --trust` in every env: the prediction must agree with what torch did, and
// every disagreement must be listed in the reports. One save per env is shared by the suite.
#include "cli/resources.h"
#include "pickle/checkpoint_file.h"
#include "pickle/pickle_analysis.h"
#include "testing/cli_runs.h"
#include "testing/test_envs.h"
#include "util/json_file.h"
#include "util/process.h"

#include <cstdlib>
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <map>
#include <set>

using namespace loadmatrix;

namespace {

class CorpusTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = new test_support::TempDir();
    SystemProcessRunner runner;
    for (const auto& env : test_support::default_env_names()) {
      ProcessSpec save;
      save.argv = {LOADMATRIX_CLI,
                   "-q",
                   "run",
                   "--envs",
                   env,
                   "--save-only",
                   "--out",
                   (dir_->path() / env).string()};
      save.timeout = std::chrono::minutes(10);
      ProcessResult saved = runner.run(save);
      ASSERT_TRUE(saved.succeeded()) << saved.stderr_text;
      // One tree of producer folders, as a maintainer's checkpoint directory would be.
      std::filesystem::create_directories(dir_->path() / "corpus");
      std::filesystem::rename(dir_->path() / env / "checkpoints" / env,
                              dir_->path() / "corpus" / env);
    }
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::filesystem::path corpus() { return dir_->path() / "corpus"; }

  // Runs the scan once for the suite: every env, --trust, the fixtures package importable.
  static const Json& scan() {
    static Json* document = nullptr;
    if (!document) {
      SystemProcessRunner runner;
      ProcessSpec spec;
      spec.argv = {LOADMATRIX_CLI,    "scan",
                   corpus().string(), "--trust",
                   "--python-path",   (resources().cases_dir / "fixtures").string(),
                   "--out",           (dir_->path() / "scan").string()};
      spec.timeout = std::chrono::minutes(15);
      ProcessResult result = runner.run(spec);
      // Exit 1: the corpus has files that break and files that are dangerous.
      EXPECT_EQ(result.exit_code, 1) << result.stderr_text;
      scan_stdout_ = new std::string(result.stdout_text);
      document = new Json(read_json_file(dir_->path() / "scan" / "scan.json").value_or_throw());
    }
    return *document;
  }

  static const Json& file(const std::string& producer, const std::string& name) {
    for (const auto& entry : scan().at("files")) {
      if (entry.at("path").get<std::string>().ends_with(producer + "/" + name + ".pt")) {
        return entry;
      }
    }
    throw FatalError("no scanned file " + producer + "/" + name);
  }

  static const Json& result(const Json& entry, const std::string& env, const std::string& mode) {
    for (const auto& cell : entry.at("results")) {
      if (cell.at("env") == env && cell.at("mode") == mode) {
        return cell;
      }
    }
    throw FatalError("no result for " + env + " " + mode);
  }

  static test_support::TempDir* dir_;
  static std::string* scan_stdout_;
};

test_support::TempDir* CorpusTest::dir_ = nullptr;
std::string* CorpusTest::scan_stdout_ = nullptr;

std::vector<std::string> strings(const Json& value) {
  return value.is_array() ? value.get<std::vector<std::string>>() : std::vector<std::string>{};
}

} // namespace

// Every file the corpus makes in the four real envs (protocols 2 and 4+, numpy 1 and 2,
// legacy, zip and TorchScript) parses, and its globals are the ones torch names.
TEST_F(CorpusTest, EveryCheckpointTheCorpusProducesParses) {
  size_t files = 0;
  std::map<std::string, size_t> formats;
  for (const auto& env : test_support::default_env_names()) {
    for (const auto& entry : std::filesystem::directory_iterator(corpus() / env)) {
      if (entry.path().extension() != ".pt") {
        continue;
      }
      ++files;
      auto expectation = entry.path();
      expectation.replace_extension(".expect.json");
      std::string expected_format =
          read_json_file(expectation).value().at("save").value("format", "");
      auto file = read_checkpoint_file(entry.path());
      ASSERT_TRUE(file) << file.error().message;
      EXPECT_EQ(checkpoint_format_id(file->format), expected_format) << entry.path();
      ++formats[checkpoint_format_id(file->format)];
      for (const auto& member : file->pickles) {
        auto analysis = analyze_pickle(member.bytes);
        ASSERT_TRUE(analysis) << entry.path() << " " << member.name << ": "
                              << analysis.error().message;
      }
    }
  }
  EXPECT_GE(files, 4u * 40);
  EXPECT_EQ(formats["legacy"], 4u);
  EXPECT_EQ(formats["torchscript"], 4u);

  auto globals_of = [&](const std::string& env, const std::string& name) {
    std::set<std::string> names;
    auto file = read_checkpoint_file(corpus() / env / (name + ".pt"));
    for (const auto& member : file.value().pickles) {
      PickleAnalysis analysis = analyze_pickle(member.bytes).value();
      for (const auto& global : analysis.globals) {
        names.insert(global.name);
      }
    }
    return names;
  };
  EXPECT_TRUE(globals_of("bookworm", "argparse_namespace").contains("argparse.Namespace"));
  EXPECT_TRUE(
      globals_of("bookworm", "numpy_rng_state").contains("numpy.core.multiarray._reconstruct"));
  EXPECT_TRUE(
      globals_of("trixie", "numpy_rng_state").contains("numpy._core.multiarray._reconstruct"));
  EXPECT_TRUE(globals_of("sid", "blocklisted_module_global").contains("posix.getcwd"));
  EXPECT_TRUE(globals_of("sid", "python_set").contains("builtins.set"));
}

// The acceptance test: prediction vs observed on the whole corpus, in every env.
TEST_F(CorpusTest, ThePredictionEqualsTheObservedLoadInEveryCell) {
  const Json& document = scan();
  EXPECT_EQ(document.at("schema"), "loadmatrix.scan/1");
  size_t agree = document.at("agreement").at("agree");
  size_t disagree = document.at("agreement").at("disagree");
  size_t checkpoints = 0;
  size_t compared = 0;
  for (const auto& entry : document.at("files")) {
    std::string path = entry.at("path");
    if (!path.ends_with(".pt")) {
      EXPECT_EQ(entry.at("status"), "not_a_checkpoint") << path;
      continue;
    }
    ++checkpoints;
    EXPECT_EQ(entry.at("status"), "checkpoint") << path;
    for (const auto& cell : entry.at("results")) {
      if (cell.at("agrees").is_null()) {
        continue;
      }
      ++compared;
      EXPECT_TRUE(cell.at("agrees").get<bool>()) << path << " " << cell.dump();
    }
  }
  EXPECT_GE(checkpoints, 4u * 40);
  // Every env and mode was loaded (--trust covers 1.x's full unpickler): 4 envs x 2 modes
  // (bullseye's weights_only: unsupported on both sides, 1.7 has no such argument).
  EXPECT_EQ(compared, checkpoints * 8);
  EXPECT_EQ(agree + disagree, compared);
  EXPECT_EQ(disagree, 0u);
  std::cout << "prediction agrees in " << agree << " of " << compared << " cells\n";

  // Listed, not hidden: one report row and one summary line per disagreement.
  std::string html = read_text_file(dir_->path() / "scan" / "report.html").value_or_throw();
  EXPECT_NE(html.find(fmt::format("data-disagree=\"{}\"", disagree)), std::string::npos);
  std::string summary = read_text_file(dir_->path() / "scan" / "summary.md").value_or_throw();
  size_t lines = 0;
  for (size_t at = summary.find("- disagreement: "); at != std::string::npos;
       at = summary.find("- disagreement: ", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, disagree);
  EXPECT_NE(scan_stdout_->find(fmt::format("{} agree, {} disagree", agree, disagree)),
            std::string::npos);
}

// What the bytes alone cannot tell, each asked of the env: 2.x writes a sparse COO tensor's data
// with a fourth field 1.x's _rebuild_sparse_tensor cannot unpack, and 1.7's torch.jit.load
// cannot compile a 1.13+ archive's code and aborts reading its debug records to say so.
TEST_F(CorpusTest, WhatAnOlderTorchCannotRebuildOrCompileIsPredictedFromItsOwnAnswer) {
  for (const char* producer : {"trixie", "sid"}) {
    const Json& sparse = file(producer, "sparse_tensor");
    for (auto [env, mode] : {std::pair{"bullseye", "default"}, std::pair{"bookworm", "default"},
                             std::pair{"bookworm", "weights_only"}}) {
      const Json& cell = result(sparse, env, mode);
      EXPECT_EQ(cell.at("predicted"), "error") << producer << " on " << env << " " << mode;
      EXPECT_EQ(cell.at("observed"), "error");
      std::string detail = cell.at("prediction").at("detail");
      EXPECT_NE(detail.find("torch.sparse_coo tensor's data has 4 fields"), std::string::npos)
          << detail;
      EXPECT_NE(detail.find("too many values to unpack"), std::string::npos) << detail;
    }
    EXPECT_EQ(result(sparse, "trixie", "weights_only").at("predicted"), "pass");
    const Json& archive = result(file(producer, "torchscript_archive"), "bullseye", "default");
    EXPECT_EQ(archive.at("predicted"), "crash") << archive.dump();
    EXPECT_EQ(archive.at("observed"), "crash");
    EXPECT_NE(archive.at("prediction").at("detail").get<std::string>().find("signal 6"),
              std::string::npos);
  }
  // 1.x's own sparse files and archives are read everywhere.
  EXPECT_EQ(result(file("bookworm", "sparse_tensor"), "bullseye", "default").at("predicted"),
            "pass");
  EXPECT_EQ(result(file("bullseye", "torchscript_archive"), "bullseye", "default").at("predicted"),
            "pass");
  EXPECT_EQ(result(file("sid", "torchscript_archive"), "bookworm", "default").at("predicted"),
            "pass");
}

TEST_F(CorpusTest, AFixIsVerifiedOnlyWhenThatExactAllowlistLoadedTheFile) {
  // argparse.Namespace: blocked from 2.6 on; allowlisting exactly it loads the file.
  const Json& ns = file("bookworm", "argparse_namespace");
  EXPECT_EQ(result(ns, "bookworm", "default").at("observed"), "pass");
  for (const char* env : {"trixie", "sid"}) {
    const Json& cell = result(ns, env, "default");
    EXPECT_EQ(cell.at("predicted"), "blocked");
    EXPECT_EQ(cell.at("observed"), "blocked");
    EXPECT_EQ(strings(cell.at("blocked_globals")), std::vector<std::string>{"argparse.Namespace"});
    EXPECT_EQ(strings(cell.at("fix").at("allowlist")),
              std::vector<std::string>{"argparse.Namespace"});
    EXPECT_TRUE(cell.at("fix").at("verified").get<bool>());
  }
  // numpy 2 builds a numpy.dtypes class per dtype: the fix names it, and loads.
  const Json& rng = result(file("sid", "trainer_rng_state"), "trixie", "weights_only");
  auto allowlist = strings(rng.at("fix").at("allowlist"));
  EXPECT_NE(std::find(allowlist.begin(), allowlist.end(), "numpy.dtypes.UInt32DType"),
            allowlist.end());
  EXPECT_TRUE(rng.at("fix").at("verified").get<bool>());
  // defaultdict: allowlisting works on 2.6; 2.14 refuses to fill it even when allowlisted.
  const Json& counts = file("trixie", "defaultdict_counts");
  EXPECT_TRUE(result(counts, "trixie", "weights_only").at("fix").at("verified").get<bool>());
  const Json& on_sid = result(counts, "sid", "weights_only");
  EXPECT_FALSE(on_sid.at("fix").at("verified").get<bool>());
  EXPECT_TRUE(strings(on_sid.at("fix").at("allowlist")).empty());
  EXPECT_NE(on_sid.at("fix").at("note").get<std::string>().find("weights_only=False"),
            std::string::npos);
  // 1.13 has no public allowlist: no fix is ever called verified there.
  EXPECT_FALSE(result(ns, "bookworm", "weights_only").at("fix").at("verified").get<bool>());
}

TEST_F(CorpusTest, DangerousGlobalsAreFlaggedAndNeverAllowlisted) {
  const Json& payload = file("sid", "blocklisted_module_global");
  EXPECT_EQ(payload.at("verdict"), "dangerous");
  EXPECT_EQ(strings(payload.at("dangerous")), std::vector<std::string>{"posix.getcwd"});
  for (const auto& entry : scan().at("files")) {
    for (const auto& cell : entry.at("results")) {
      if (cell.at("fix").is_null()) {
        continue;
      }
      for (const auto& global : strings(cell.at("fix").at("allowlist"))) {
        auto dangerous = strings(entry.at("dangerous"));
        EXPECT_EQ(std::find(dangerous.begin(), dangerous.end(), global), dangerous.end())
            << entry.at("path") << " " << global;
      }
    }
    if (!entry.at("dangerous").empty()) {
      EXPECT_EQ(entry.at("verdict"), "dangerous") << entry.at("path");
    }
  }
  // TorchScript: 2.6 and later refuse it under weights_only, as predicted; 1.13 loads it.
  const Json& script = file("trixie", "torchscript_archive");
  EXPECT_EQ(result(script, "sid", "weights_only").at("observed"), "error");
  EXPECT_EQ(result(script, "sid", "weights_only").at("predicted"), "error");
  EXPECT_EQ(result(script, "bookworm", "weights_only").at("observed"), "pass");
}

// Files from the newer stacks name what the older ones lack: the env is asked whether it has
// each global (probes/global_resolution.h), and the prediction is the error the load raises,
// with the first missing name, where the bytes alone said `pass`.
TEST_F(CorpusTest, AGlobalTheConsumerLacksIsPredictedAsTheErrorTheLoadRaises) {
  // 2.x saves uint16 and float8 tensors through _rebuild_tensor_v3 (torch 2.1+) and a jagged
  // nested tensor as torch.nested._internal's subclass (rebuilt through torch._tensor, which
  // 1.7 lacks too); Python 3.13 pickles a path from pathlib._local (3.14 writes pathlib's
  // name again). The first missing global in the stream is the one the load stops at.
  struct Expectation {
    const char* producer;
    const char* recipe;
    const char* consumer;
    const char* missing;
    const char* error_type;
  };
  std::vector<Expectation> expected;
  for (const char* producer : {"trixie", "sid"}) {
    for (const char* consumer : {"bullseye", "bookworm"}) {
      for (const char* recipe : {"uint16_tensors", "float8_tensors"}) {
        expected.push_back(
            {producer, recipe, consumer, "torch._utils._rebuild_tensor_v3", "AttributeError"});
      }
      expected.push_back({producer, "nested_jagged_tensor", consumer,
                          std::string(consumer) == "bullseye"
                              ? "torch._tensor._rebuild_from_type_v2"
                              : "torch.nested._internal.nested_tensor._rebuild_njt",
                          "ModuleNotFoundError"});
    }
  }
  for (const char* consumer : {"bullseye", "bookworm"}) {
    expected.push_back({"trixie", "pathlib_path", consumer, "pathlib._local.PurePosixPath",
                        "ModuleNotFoundError"});
  }
  for (const auto& e : expected) {
    const Json& cell = result(file(e.producer, e.recipe), e.consumer, "default");
    SCOPED_TRACE(fmt::format("{} from {} on {}", e.recipe, e.producer, e.consumer));
    EXPECT_EQ(cell.at("predicted"), "error") << cell.dump();
    EXPECT_EQ(cell.at("observed"), "error") << cell.dump();
    EXPECT_TRUE(cell.at("agrees").get<bool>());
    EXPECT_EQ(cell.at("prediction").at("missing_global"), e.missing);
    EXPECT_EQ(cell.at("observation").at("error_type"), e.error_type);
    // The prediction quotes the error the env raises resolving that global.
    std::string detail = cell.at("prediction").at("detail");
    std::string message = cell.at("observation").at("message");
    EXPECT_NE(detail.find(message.substr(0, 40)), std::string::npos) << detail << " / " << message;
  }
  // 2.6+ refuses a jagged nested tensor in its own words, naming no global: the env's
  // weights-only unpickler was asked of each global, so the prediction says the same.
  for (const char* producer : {"trixie", "sid"}) {
    for (const char* consumer : {"trixie", "sid"}) {
      const Json& cell = result(file(producer, "nested_jagged_tensor"), consumer, "weights_only");
      EXPECT_TRUE(cell.at("agrees").get<bool>()) << cell.dump();
      EXPECT_NE(cell.at("prediction").at("detail").get<std::string>().find("must be imported"),
                std::string::npos)
          << cell.dump();
    }
  }
  // sid's own interpreter (3.14) writes pathlib.PosixPath: nothing missing, it loads.
  EXPECT_EQ(result(file("sid", "pathlib_path"), "bookworm", "default").at("observed"), "pass");
}

// Every blocked global of the corpus is placed in the object its recipe built, in every
// producer's file: the saving-side fix, read statically.
TEST_F(CorpusTest, EveryBlockedGlobalIsPlacedWhereTheRecipePutIt) {
  size_t placed = 0;
  for (const auto& entry : scan().at("files")) {
    if (entry.at("status") != "checkpoint" || entry.at("format") == "torchscript") {
      continue;
    }
    std::map<std::string, Json> globals;
    for (const auto& global : entry.at("globals")) {
      globals[global.at("name")] = global;
    }
    for (const auto& cell : entry.at("results")) {
      for (std::string name : strings(cell.at("blocked_globals"))) {
        if (name.starts_with("numpy.dtypes.")) {
          name = "numpy.dtype"; // numpy 2's dtype classes sit where BUILD made them
        }
        ASSERT_TRUE(globals.contains(name)) << entry.at("path") << " " << name;
        EXPECT_TRUE(globals[name].at("object_path").is_string())
            << entry.at("path") << " " << name << " " << globals[name].dump();
        ++placed;
      }
    }
  }
  EXPECT_GE(placed, 400u);
  auto path_of = [&](const std::string& producer, const std::string& recipe,
                     const std::string& global) {
    for (const auto& entry : file(producer, recipe).at("globals")) {
      if (entry.at("name") == global) {
        return entry.at("object_path").is_string() ? entry.at("object_path").get<std::string>()
                                                   : std::string("(none)");
      }
    }
    return std::string("(not named)");
  };
  for (const char* producer : {"bullseye", "bookworm", "trixie", "sid"}) {
    SCOPED_TRACE(producer);
    // {"args": argparse.Namespace(...), "model": {...}}
    EXPECT_EQ(path_of(producer, "argparse_namespace", "argparse.Namespace"), "[\"args\"]");
    // {"scheduler": StepLR(SGD(...))}: the optimizer is an attribute of the scheduler.
    EXPECT_EQ(path_of(producer, "scheduler_object", "torch.optim.lr_scheduler.StepLR"),
              "[\"scheduler\"]");
    EXPECT_EQ(path_of(producer, "scheduler_object", "torch.optim.sgd.SGD"),
              "[\"scheduler\"].optimizer");
    // {"config": TrainConfig(...)}, {"metrics": defaultdict(list, ...)}, {"recent": deque(...)}
    EXPECT_EQ(path_of(producer, "dataclass_config", "loadmatrix_fixtures.TrainConfig"),
              "[\"config\"]");
    EXPECT_EQ(path_of(producer, "defaultdict_counts", "collections.defaultdict"), "[\"metrics\"]");
    EXPECT_EQ(path_of(producer, "deque_history", "collections.deque"), "[\"recent\"]");
    // {"best_score": np.float64(0.875), ...}: a numpy scalar, whichever numpy wrote it.
    std::string scalar = path_of(producer, "numpy_scalar", "numpy.core.multiarray.scalar");
    if (scalar == "(not named)") {
      scalar = path_of(producer, "numpy_scalar", "numpy._core.multiarray.scalar");
    }
    EXPECT_EQ(scalar, "[\"best_score\"]");
  }
}

// scan.sarif, for code scanning: valid by Microsoft's SARIF multitool, and the corpus's
// findings are in it at their files.
TEST_F(CorpusTest, TheSarifPassesMicrosoftsSarifMultitoolAndHoldsTheFindings) {
  scan();
  auto sarif = dir_->path() / "scan" / "scan.sarif";
  auto validation = dir_->path() / "validation.sarif";
  std::string command = std::string(LOADMATRIX_SOURCE_DIR) + "/scripts/sarif-multitool validate " +
                        sarif.string() + " -o " + validation.string() + " > /dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const Json& problems = read_json_file(validation).value_or_throw()["runs"][0]["results"];
  EXPECT_TRUE(problems.empty()) << problems.dump(1);
  Json document = read_json_file(sarif).value_or_throw();
  auto find = [&](const std::string& rule, const std::string& file) -> const Json* {
    for (const auto& result : document["runs"][0]["results"]) {
      std::string uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
      if (result["ruleId"] == rule && uri.ends_with(file)) {
        return &result;
      }
    }
    return nullptr;
  };
  const Json* payload = find("LMS001", "sid/blocklisted_module_global.pt");
  ASSERT_NE(payload, nullptr);
  EXPECT_EQ((*payload)["properties"]["global"], "posix.getcwd");
  const Json* ns = find("LMS002", "bookworm/argparse_namespace.pt");
  ASSERT_NE(ns, nullptr);
  std::string text = (*ns)["message"]["text"];
  EXPECT_NE(text.find("argparse.Namespace (at [\"args\"])"), std::string::npos) << text;
  EXPECT_NE(text.find("verified by loading it on"), std::string::npos) << text;
  const Json* sparse = find("LMS003", "sid/sparse_tensor.pt");
  ASSERT_NE(sparse, nullptr);
  EXPECT_NE((*sparse)["message"]["text"].get<std::string>().find("too many values to unpack"),
            std::string::npos);
  EXPECT_EQ(find("LMS002", "bookworm/plain_tensors.pt"), nullptr);
  EXPECT_EQ(find("LMS003", "bookworm/plain_tensors.pt"), nullptr);
}

// The corpus scan's documents follow their JSON Schemas (reports/schemas/).
TEST_F(CorpusTest, ItsScanJsonAndResultsFollowTheirSchemas) {
  scan();
  for (auto [schema, file] : {std::pair{"scan", "scan.json"}, std::pair{"results", "results.json"},
                              std::pair{"results", "records.jsonl"}}) {
    ProcessResult validated =
        test_support::validate_against_schema(schema, {dir_->path() / "scan" / file});
    EXPECT_EQ(validated.exit_code, 0)
        << file << ": " << validated.stdout_text << validated.stderr_text;
  }
}

namespace {

// `loadmatrix ARGS... scan CORPUS --static-only --json OUT` (exit 1: the corpus has files that
// break); its scan.json.
Json static_scan(const std::filesystem::path& out, std::vector<std::string> global_args,
                 std::vector<std::string> scan_args) {
  SystemProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {LOADMATRIX_CLI, "-q"};
  spec.argv.insert(spec.argv.end(), global_args.begin(), global_args.end());
  spec.argv.insert(spec.argv.end(), {"scan", (out.parent_path() / "corpus").string(),
                                     "--static-only", "--json", out.string()});
  spec.argv.insert(spec.argv.end(), scan_args.begin(), scan_args.end());
  spec.timeout = std::chrono::minutes(10);
  ProcessResult result = runner.run(spec);
  EXPECT_EQ(result.exit_code, 1) << result.stderr_text;
  return read_json_file(out).value_or_throw();
}

// Per (file, env, mode): the prediction and the allowlist of its fix.
std::map<std::string, Json> predictions(const Json& scan) {
  std::map<std::string, Json> cells;
  for (const auto& file : scan.at("files")) {
    for (const auto& cell : file.value("results", Json::array())) {
      Json fix = cell.contains("fix") && cell.at("fix").is_object()
                     ? cell.at("fix").value("allowlist", Json())
                     : Json();
      cells[file.at("path").get<std::string>() + " | " + cell.at("env").get<std::string>() + " | " +
            cell.at("mode").get<std::string>()] = {cell.at("prediction"), fix};
    }
  }
  return cells;
}

void expect_same_predictions(const Json& live, const Json& facts, size_t envs) {
  for (const auto& env : live.at("envs")) {
    EXPECT_FALSE(env.contains("facts")) << env.dump();
  }
  ASSERT_EQ(facts.at("envs").size(), envs);
  for (const auto& env : facts.at("envs")) {
    EXPECT_TRUE(env.contains("facts")) << env.dump(); // predicted from facts: no env here
  }
  auto expected = predictions(live);
  auto got = predictions(facts);
  EXPECT_GE(expected.size(), envs * 2 * 4 * 40); // envs x modes x producers x cases
  EXPECT_EQ(got.size(), expected.size());
  size_t differ = 0;
  for (const auto& [key, prediction] : expected) {
    auto found = got.find(key);
    if (found == got.end() || found->second != prediction) {
      ++differ;
      ADD_FAILURE() << key << "\n  live:  " << prediction.dump()
                    << "\n  facts: " << (found == got.end() ? "none" : found->second.dump());
    }
  }
  EXPECT_EQ(differ, 0u) << "of " << expected.size() << " cells";
}

} // namespace

// What a bare install predicts (no env, the measured facts) equals what the envs themselves
// predict, on every cell of the corpus: with facts exported from the four envs here, and with
// the shipped facts (matrix/facts/releases.json) for the releases also provisioned here with the
// same spec (bullseye, and matrix/user.json's torch-2.6, which scripts/test provisions).
TEST_F(CorpusTest, PredictionsFromMeasuredFactsEqualTheLiveEnvsOnEveryCell) {
  auto dir = dir_->path();
  std::filesystem::create_directories(dir / "no-envs");
  Json live = static_scan(dir / "live.json", {}, {"--no-shipped-facts"});
  SystemProcessRunner runner;
  ProcessSpec exported;
  exported.argv = {LOADMATRIX_CLI,   "-q",
                   "facts",          "export",
                   "--globals-from", corpus().string(),
                   "--out",          (dir / "facts.json").string()};
  exported.timeout = std::chrono::minutes(10);
  ProcessResult result = runner.run(exported);
  ASSERT_TRUE(result.succeeded()) << result.stderr_text;
  Json from_facts = static_scan(dir / "from-facts.json", {"--env-dir", (dir / "no-envs").string()},
                                {"--no-shipped-facts", "--facts", (dir / "facts.json").string()});
  expect_same_predictions(live, from_facts, test_support::default_env_names().size());

  std::string releases = (resources().home / "matrix" / "releases.json").string();
  Json live_releases = static_scan(dir / "live-releases.json", {"--matrix", releases},
                                   {"--envs", "bullseye,torch-2.6", "--no-shipped-facts"});
  ASSERT_EQ(live_releases.at("missing_envs").size(), 0u)
      << "provision matrix/user.json's torch-2.6 (scripts/test does)";
  Json shipped = static_scan(dir / "shipped.json",
                             {"--matrix", releases, "--env-dir", (dir / "no-envs").string()},
                             {"--envs", "bullseye,torch-2.6"});
  expect_same_predictions(live_releases, shipped, 2);
}
