// Checkpoints nobody here wrote: the files PyPI packages ship in their wheels
// (cases/real/pypi_checkpoints.json, fetched at test time by scripts/real-checkpoints), what torch
// 1.1 wrote in 2019 (cases/real/torch_1_1.py, in a venv of its PyPI wheel), and an int8
// TorchScript model each env writes. Scanned with --trust in every env: the observed load must
// be what a direct torch.load does there, and the prediction what was observed, in every cell.
#include "cli/resources.h"
#include "records/classify.h"
#include "testing/cli_runs.h"
#include "testing/test_envs.h"
#include "util/json_file.h"
#include "util/process.h"

#include <fmt/core.h>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <sstream>

using namespace loadmatrix;

namespace {

// Each file, each mode, in a forked child (an older torch aborts on a newer archive): what
// torch.load did, as the worker reports it, one JSON line per load. `__main__` is this script.
constexpr const char* kDirectLoad = R"(import inspect, json, os, sys, warnings
warnings.simplefilter("ignore")
import torch
modes = [("default", {})]
if "weights_only" in inspect.signature(torch.load).parameters:
    modes.append(("weights_only", {"weights_only": True}))
for path in sys.argv[2:]:
    for mode, kwargs in modes:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                torch.load(path, map_location="cpu", **kwargs)
                facts = {"status": "returned"}
            except BaseException as error:
                facts = {"status": "raised", "error_type": type(error).__name__,
                         "message": str(error)[:4000]}
            os.write(write_end, json.dumps(facts).encode())
            os._exit(0)
        os.close(write_end)
        data = os.fdopen(read_end, "rb").read()
        _, status = os.waitpid(pid, 0)
        facts = json.loads(data) if data else {"status": "crashed",
                                              "signal": os.WTERMSIG(status)}
        facts.update(file=os.path.relpath(path, sys.argv[1]), mode=mode)
        print("@direct " + json.dumps(facts), flush=True)
)";

class RealCheckpointsTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = new test_support::TempDir();
    SystemProcessRunner runner;
    ProcessSpec fetch;
    fetch.argv = {(resources().home / "scripts" / "real-checkpoints").string(), corpus().string()};
    fetch.timeout = std::chrono::minutes(20);
    ProcessResult fetched = runner.run(fetch);
    ASSERT_TRUE(fetched.succeeded()) << fetched.describe() << fetched.stderr_text;
    test_support::give_to_sandbox_user(dir_->path());
    // An int8 TorchScript model from each env whose torch quantizes (1.7's has no engine).
    std::filesystem::create_directories(corpus() / "quantized");
    test_support::give_to_sandbox_user(corpus() / "quantized");
    for (const auto& name : test_support::default_env_names()) {
      Environment env = test_support::open_test_env(name);
      SandboxMount out = env.sandbox.place(corpus() / "quantized", "out", true);
      SandboxMount recipes = env.sandbox.place(resources().cases_dir / "real", "recipes", false);
      SandboxCommand save;
      save.argv = {env.python, (recipes.inside / "quantized_torchscript.py").string(),
                   (out.inside / (name + ".pt")).string()};
      save.mounts = {out, recipes};
      ProcessResult saved = env.sandbox.run(runner, save);
      if (env.fingerprint().torch.starts_with("1.7")) {
        continue; // "Didn't find engine for operation quantized::linear_prepack"
      }
      ASSERT_TRUE(saved.succeeded()) << name << ": " << saved.describe() << saved.stderr_text;
    }
    test_support::give_to_sandbox_user(dir_->path());
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::filesystem::path corpus() { return dir_->path() / "corpus"; }

  static std::vector<std::string> files() {
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(corpus())) {
      if (entry.is_regular_file()) {
        out.push_back(std::filesystem::relative(entry.path(), corpus()).string());
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  static const Json& scan() {
    static Json* document = nullptr;
    if (!document) {
      ProcessResult result = test_support::run_loadmatrix(
          {"scan", corpus().string(), "--trust", "--out", (dir_->path() / "scan").string()},
          std::chrono::minutes(15));
      // Exit 1: files that break (2.6+ refuses the numpy and whole-module ones).
      EXPECT_EQ(result.exit_code, 1) << result.stderr_text;
      *log_ = result.stderr_text;
      document = new Json(read_json_file(dir_->path() / "scan" / "scan.json").value_or_throw());
    }
    return *document;
  }

  // What a direct torch.load did, by file (relative to the corpus), env and mode.
  static const std::map<std::tuple<std::string, std::string, std::string>, Json>& direct() {
    static auto* loads = new std::map<std::tuple<std::string, std::string, std::string>, Json>();
    if (loads->empty()) {
      SystemProcessRunner runner;
      test_support::TempDir scratch;
      std::ofstream(scratch.path() / "direct_load.py") << kDirectLoad;
      test_support::give_to_sandbox_user(scratch.path());
      for (const auto& name : test_support::default_env_names()) {
        Environment env = test_support::open_test_env(name);
        SandboxMount input = env.sandbox.place(corpus(), "input", false);
        SandboxMount script = env.sandbox.place(scratch.path(), "script", false);
        SandboxCommand load;
        load.argv = {env.python, (script.inside / "direct_load.py").string(),
                     input.inside.string()};
        for (const auto& file : files()) {
          load.argv.push_back((input.inside / file).string());
        }
        load.mounts = {input, script};
        load.timeout = std::chrono::minutes(10);
        load.output_limit = 16 << 20;
        ProcessResult result = env.sandbox.run(runner, load);
        EXPECT_TRUE(result.succeeded()) << name << ": " << result.describe() << result.stderr_text;
        std::istringstream lines(result.stdout_text);
        for (std::string line; std::getline(lines, line);) {
          if (line.starts_with("@direct ")) {
            Json facts = Json::parse(line.substr(8));
            (*loads)[{facts.at("file"), name, facts.at("mode")}] = facts;
          }
        }
      }
    }
    return *loads;
  }

  static const Json& entry(const std::string& relative) {
    for (const auto& file : scan().at("files")) {
      if (file.at("path").get<std::string>().ends_with("/" + relative)) {
        return file;
      }
    }
    throw FatalError("no scanned file " + relative);
  }

  static const Json& cell(const Json& file, const std::string& env, const std::string& mode) {
    for (const auto& cell : file.at("results")) {
      if (cell.at("env") == env && cell.at("mode") == mode) {
        return cell;
      }
    }
    throw FatalError("no result for " + env + " " + mode);
  }

  static test_support::TempDir* dir_;
  static std::string* log_;
};

test_support::TempDir* RealCheckpointsTest::dir_ = nullptr;
std::string* RealCheckpointsTest::log_ = new std::string();

} // namespace

// The issue's acceptance test: every real file, every env, both loads.
TEST_F(RealCheckpointsTest, ObservationIsADirectTorchLoadAndPredictionIsObservationInEveryCell) {
  const auto& loads = direct();
  std::vector<std::string> all = files();
  ASSERT_GE(all.size(), 27u); // 21 from PyPI, 3 from torch 1.1, 3 int8 TorchScript models
  size_t cells = 0;
  std::map<std::string, size_t> outcomes;
  for (const auto& relative : all) {
    const Json& file = entry(relative);
    EXPECT_EQ(file.at("status"), "checkpoint") << relative << ": " << file.at("error");
    for (const auto& env : test_support::default_env_names()) {
      for (const char* mode : {"default", "weights_only"}) {
        const Json& result = cell(file, env, mode);
        auto load = loads.find({relative, env, mode});
        if (load == loads.end()) { // 1.7: torch.load has no weights_only
          EXPECT_EQ(result.at("observed"), "unsupported") << relative << " " << env;
          EXPECT_EQ(result.at("predicted"), "unsupported") << relative << " " << env;
          continue;
        }
        ++cells;
        Classification direct = classify(load->second, nullptr);
        EXPECT_EQ(result.at("observed"), outcome_id(direct.outcome))
            << relative << " " << env << " " << mode << ": torch.load said " << load->second.dump()
            << "; the scan observed " << result.at("observation").dump();
        EXPECT_EQ(result.at("agrees"), true)
            << relative << " " << env << " " << mode << ": " << result.dump();
        ++outcomes[result.at("observed").get<std::string>()];
      }
    }
  }
  EXPECT_EQ(cells, all.size() * 7); // 4 envs x 2 modes, but 1.7's weights_only
  // Not one kind of answer: the corpus breaks, and differently, across the envs.
  EXPECT_GT(outcomes["pass"], 0u);
  EXPECT_GT(outcomes["blocked"], 0u);
  EXPECT_GT(outcomes["error"], 0u);
  EXPECT_GT(outcomes["crash"], 0u);
  std::cout << "real checkpoints: " << all.size() << " files, " << cells
            << " cells, prediction = observation = torch.load in each\n";
}

// The class a training script defined in its own __main__: every torch's full unpickler raises
// (the loader's __main__ is another program), and no allowlist can name it.
TEST_F(RealCheckpointsTest, AClassFromTheSaversMainIsTheErrorEveryTorchRaises) {
  const Json& file = entry("torch-1.1/main_class_1_1.pt");
  for (const auto& env : {"bullseye", "bookworm"}) {
    const Json& bare = cell(file, env, "default");
    EXPECT_EQ(bare.at("predicted"), "error") << bare.dump();
    EXPECT_EQ(bare.at("prediction").at("missing_global"), "__main__.Net");
    EXPECT_NE(bare.at("observation")
                  .at("message")
                  .get<std::string>()
                  .find("Can't get attribute 'Net' on <module '__main__'"),
              std::string::npos);
  }
  for (const auto& env : {"trixie", "sid"}) {
    const Json& bare = cell(file, env, "default");
    EXPECT_EQ(bare.at("predicted"), "blocked") << bare.dump();
    EXPECT_EQ(bare.at("blocked_globals"), Json::array({"__main__.Net"}));
    EXPECT_EQ(bare.at("fix").at("allowlist"), Json::array());
    EXPECT_NE(bare.at("fix").at("note").get<std::string>().find("saving script's __main__"),
              std::string::npos)
        << bare.dump();
  }
}

// torch 1.1 pickled every module's _backend, torch.nn.backends.thnn._get_thnn_function_backend:
// what each env answers for that path is what its full unpickler does.
TEST_F(RealCheckpointsTest, APathAnOlderTorchPickledIsPredictedFromEachEnvsAnswer) {
  const Json& file = entry("torch-1.1/whole_module_1_1.pt");
  std::set<std::string> globals;
  for (const auto& global : file.at("globals")) {
    globals.insert(global.at("name").get<std::string>());
  }
  EXPECT_TRUE(globals.contains("torch.nn.backends.thnn._get_thnn_function_backend"));
  for (const auto& env : test_support::default_env_names()) {
    const Json& bare = cell(file, env, "default");
    EXPECT_EQ(bare.at("agrees"), true) << env << ": " << bare.dump();
  }
  // Under weights_only it is not the path that stops the load but the legacy format's record of
  // each module class's source, a ("module", ...) persistent id: no allowlist, and the note
  // says why rather than "refused without naming a global".
  for (const auto& env : {"trixie", "sid"}) {
    const Json& bare = cell(file, env, "default");
    EXPECT_EQ(bare.at("blocked_globals"), Json::array({"torch.nn.modules.container.Sequential"}));
    EXPECT_NE(bare.at("fix").at("note").get<std::string>().find("persistent id of kind module"),
              std::string::npos)
        << bare.dump();
  }
}

// An int8 TorchScript model's skeleton does not import (its packed parameters are rebuilt from
// the emptied data): the archive is asked again whole, and that answer is what loads.
TEST_F(RealCheckpointsTest, QuantizedTorchScriptIsAskedWholeWhereItsSkeletonDoesNotStandIn) {
  scan();
  EXPECT_NE(log_->find("asked again whole"), std::string::npos) << *log_;
  size_t whole = 0;
  for (const auto& producer : {"bookworm", "trixie", "sid"}) {
    const Json& file = entry(fmt::format("quantized/{}.pt", producer));
    EXPECT_EQ(file.at("format"), "torchscript");
    for (const auto& env : {"bookworm", "trixie", "sid"}) {
      const Json& bare = cell(file, env, "default");
      EXPECT_EQ(bare.at("agrees"), true) << producer << " in " << env << ": " << bare.dump();
      whole += bare.at("prediction")
                   .at("detail")
                   .get<std::string>()
                   .find("asked with the whole archive") != std::string::npos;
    }
  }
  // torch.load hands an archive to torch.jit.load where its bare load is the full unpickler
  // (1.13 here; 2.6+ refuse TorchScript under their weights_only default): each int8 archive
  // imports there, and only the whole archive said so (its skeleton does not import).
  for (const auto& producer : {"bookworm", "trixie", "sid"}) {
    const Json& on_1_13 =
        cell(entry(fmt::format("quantized/{}.pt", producer)), "bookworm", "default");
    EXPECT_EQ(on_1_13.at("predicted"), "pass") << on_1_13.dump();
    EXPECT_NE(on_1_13.at("prediction")
                  .at("detail")
                  .get<std::string>()
                  .find("asked with the whole archive"),
              std::string::npos)
        << on_1_13.dump();
  }
  EXPECT_GE(whole, 3u);
}

// torch.jit.save's 1.0-1.2 layout (model.json, no data.pkl): each env's own torch.load answers.
TEST_F(RealCheckpointsTest, OldLayoutTorchScriptGetsEachEnvsAnswer) {
  const Json& file = entry("torch-1.1/traced_1_1.pt");
  EXPECT_EQ(file.at("status"), "checkpoint");
  EXPECT_EQ(file.at("format"), "torchscript_legacy");
  for (const auto& env : test_support::default_env_names()) {
    const Json& bare = cell(file, env, "default");
    EXPECT_EQ(bare.at("agrees"), true) << env << ": " << bare.dump();
    EXPECT_NE(bare.at("prediction").at("detail").get<std::string>().find("model.json"),
              std::string::npos);
  }
  // 1.7's torch.jit.load still reads the layout (measured), 1.13's does not.
  auto detail = [&](const std::string& env) {
    return cell(file, env, "default").at("prediction").at("detail").get<std::string>();
  };
  EXPECT_NE(detail("bullseye").find("this torch's torch.jit.load reads it"), std::string::npos)
      << detail("bullseye");
  EXPECT_NE(detail("bookworm").find("does not read either"), std::string::npos)
      << detail("bookworm");
}

// A whole scheduler saved by torch 1.7 and loaded by 1.13: 1.13's Optimizer.__setstate__ adds
// defaults the file never had (differentiable, ...), every saved value is intact, and the record
// says so instead of calling the file broken. A saved value that changed stays a mismatch
// (ClassifyTest).
TEST_F(RealCheckpointsTest, FieldsALoadersClassAddedAreNotAMismatch) {
  ProcessResult result =
      test_support::run_loadmatrix({"-q", "run", "--envs", "bullseye,bookworm", "--cases",
                                    "scheduler_object", "--out", (dir_->path() / "run").string()});
  ASSERT_LE(result.exit_code, 1) << result.stderr_text;
  auto records = test_support::records_by_key(dir_->path() / "run" / "results.json");
  for (const char* mode : {"default", "unsafe"}) {
    auto record = records.find(fmt::format("scheduler_object|bullseye|bookworm|{}", mode));
    ASSERT_NE(record, records.end()) << mode;
    EXPECT_EQ(record->second.at("outcome"), "pass") << record->second.dump();
    std::string detail = record->second.value("detail", "");
    EXPECT_NE(detail.find("every saved value intact"), std::string::npos) << detail;
    EXPECT_NE(detail.find("['defaults']['differentiable']"), std::string::npos) << detail;
  }
}

// Which torch wrote each real file, as scan.json says it: the manifest states the same, file by
// file, so the claim is checked against the files, and torch 1.1's own files against 1.1.
TEST_F(RealCheckpointsTest, ScanSaysWhichTorchWroteEachRealFile) {
  Json manifest =
      read_json_file(resources().cases_dir / "real" / "pypi_checkpoints.json").value_or_throw();
  size_t checked = 0;
  for (const auto& wheel : manifest.at("wheels")) {
    std::string package = fmt::format("pypi/{}-{}/", wheel.at("package").get<std::string>(),
                                      wheel.at("version").get<std::string>());
    for (const auto& file : wheel.at("files")) {
      const Json& scanned = entry(package + file.at("member").get<std::string>());
      EXPECT_EQ(scanned.at("written_by"), file.at("written_by")) << scanned.at("path");
      ++checked;
    }
  }
  EXPECT_EQ(checked, 21u);
  EXPECT_EQ(entry("torch-1.1/traced_1_1.pt").at("written_by"),
            "torch 1.0-1.2 (torch.jit.save's model.json layout)");
  EXPECT_EQ(entry("torch-1.1/main_class_1_1.pt").at("written_by"),
            "torch 0.4-1.5 (the legacy format), or a later one told "
            "_use_new_zipfile_serialization=False");
  // Each env's own int8 archive: torch.jit.save of 1.13 writes no byteorder record, of 2.6 and
  // 2.14 one (and never a .format_version).
  EXPECT_NE(
      entry("quantized/bookworm.pt").at("written_by").get<std::string>().find("1.x up to 2.0"),
      std::string::npos);
  for (const char* producer : {"quantized/trixie.pt", "quantized/sid.pt"}) {
    EXPECT_NE(entry(producer).at("written_by").get<std::string>().find("2.1 or later"),
              std::string::npos);
  }
}
