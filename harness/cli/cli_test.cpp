// The loadmatrix binary as users run it: exit codes and error messages.
#include "cli/resources.h"
#include "testing/checkpoint_writer.h"
#include "testing/cli_runs.h"
#include "testing/fault_cases.h"
#include "testing/test_envs.h"
#include "util/json_file.h"
#include "util/output_file.h"
#include "util/process.h"

#include <fmt/core.h>
#include <fstream>
#include <gtest/gtest.h>

using namespace loadmatrix;
using test_support::records_by_key;

namespace {

ProcessResult loadmatrix_cli(const std::vector<std::string>& args) {
  return test_support::run_loadmatrix(args, std::chrono::minutes(5));
}

} // namespace

TEST(CliEnvTest, EnvsListShowsTheVersionsEachEnvReportsOfItself) {
  ProcessResult result = loadmatrix_cli({"envs", "list", "--json"});
  ASSERT_TRUE(result.succeeded()) << result.describe() << result.stderr_text;
  Json listing = parse_json(result.stdout_text, "envs list").value();
  std::map<std::string, Json> rows;
  for (const auto& row : listing.at("envs")) {
    rows[row.at("name")] = row;
  }
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& [name, row] : rows) {
    EXPECT_EQ(row.at("status"), "ready") << name;
  }
  EXPECT_EQ(rows["bookworm"].at("torch").get<std::string>().substr(0, 5), "1.13.");
  EXPECT_EQ(rows["trixie"].at("torch").get<std::string>().substr(0, 6), "2.6.0+");
  EXPECT_EQ(rows["sid"].at("torch").get<std::string>().substr(0, 7), "2.14.1+");
  EXPECT_EQ(rows["bookworm"].at("python").get<std::string>().substr(0, 5), "3.11.");
  // torch 1.7 (2020) on Python 3.9: torch.load has no weights_only argument at all.
  EXPECT_EQ(rows["bullseye"].at("torch").get<std::string>().substr(0, 4), "1.7.");
  EXPECT_EQ(rows["bullseye"].at("python").get<std::string>().substr(0, 4), "3.9.");
  EXPECT_EQ(rows["bullseye"].at("weights_only"), "absent");
  EXPECT_EQ(rows["trixie"].at("python").get<std::string>().substr(0, 5), "3.13.");
  EXPECT_EQ(rows["sid"].at("python").get<std::string>().substr(0, 5), "3.14.");
  EXPECT_EQ(rows["bookworm"].at("weights_only"), "opt-in");
  EXPECT_EQ(rows["trixie"].at("weights_only"), "default");
  EXPECT_EQ(rows["sid"].at("weights_only"), "default");
}

TEST(CliTest, AnUnknownEnvNameIsAnErrorListingTheKnownOnes) {
  ProcessResult result = loadmatrix_cli({"envs", "list", "buster"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.stderr_text.find("loadmatrix: error: "), std::string::npos);
  EXPECT_NE(result.stderr_text.find("debian.json: no env named 'buster' (the matrix has: "
                                    "bullseye, bookworm, trixie, sid)"),
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

TEST(CliTest, GlobalOptionsAreTakenOnEitherSideOfTheSubcommand) {
  test_support::TempDir dir;
  auto matrix = dir.path() / "broken.json";
  std::ofstream(matrix) << "{\n  \"schema\": \"loadmatrix.matrix/1\",\n  \"envs\": [,]\n}\n";
  // The matrix given after the subcommand (and after a nested one) is the one read.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"run", "--matrix", matrix.string(), "--out", (dir.path() / "out").string()},
           {"envs", "list", "--matrix", matrix.string()},
           {"-q", "scan", dir.path().string(), "--matrix", matrix.string()}}) {
    ProcessResult result = loadmatrix_cli(args);
    EXPECT_EQ(result.exit_code, 2) << args[0] << ": " << result.stderr_text;
    EXPECT_NE(result.stderr_text.find(matrix.string() + ":3:12: invalid JSON"), std::string::npos)
        << args[0] << ": " << result.stderr_text;
  }
}

TEST(CliTest, AListOptionBeforeThePathsTakesOneValueNotThePaths) {
  test_support::TempDir dir;
  // The empty directory is the path, not a second env: nothing to scan or audit (3), not a
  // usage error (4).
  for (const std::string command : {"scan", "audit"}) {
    ProcessResult result =
        loadmatrix_cli({"-q", command, "--envs", "sid", "--envs", "bookworm", dir.path().string()});
    EXPECT_EQ(result.exit_code, 3) << command << ": " << result.stderr_text;
  }
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

// A maintainer's own recipe, importing a class from their own package: nothing in the harness
// knows either name.
TEST(CliRunTest, AUsersOwnCasesAndPackageRunLikeTheCorpus) {
  test_support::TempDir dir;
  std::filesystem::create_directories(dir.path() / "src" / "acme");
  std::ofstream(dir.path() / "src" / "acme" / "__init__.py") << "";
  std::ofstream(dir.path() / "src" / "acme" / "meta.py")
      << "class ModelCard:\n    def __init__(self, owner):\n        self.owner = owner\n";
  std::filesystem::create_directories(dir.path() / "ours" / "recipes");
  std::ofstream(dir.path() / "ours" / "recipes" / "acme_release.py")
      << "\"\"\"Acme's release checkpoint: weights plus a ModelCard.\"\"\"\n"
         "import torch\nfrom acme.meta import ModelCard\n\n"
         "def build():\n    return {'w': torch.ones(2), 'card': ModelCard('acme')}\n";
  // A recipe that cannot even be built: its cells say why instead of vanishing.
  std::ofstream(dir.path() / "ours" / "recipes" / "needs_gpu.py")
      << "\"\"\"A checkpoint only a GPU box can make.\"\"\"\n"
         "def build():\n    raise RuntimeError('no CUDA device')\n";
  auto out = dir.path() / "out";
  ProcessResult result = loadmatrix_cli({"-q", "run", "--envs", "bookworm,sid", "--cases",
                                         (dir.path() / "ours").string(), "--no-builtin-cases",
                                         "--python-path", (dir.path() / "src").string(), "--modes",
                                         "default,allowlist,unsafe", "--out", out.string()});
  ASSERT_TRUE(result.succeeded()) << result.describe() << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("24 cells"), std::string::npos) << result.stdout_text;
  auto records = records_by_key(out / "results.json");
  EXPECT_EQ(records.at("acme_release|bookworm|bookworm|default").at("outcome"), "pass");
  const Json& blocked = records.at("acme_release|bookworm|sid|default");
  EXPECT_EQ(blocked.at("outcome"), "blocked");
  EXPECT_EQ(blocked.at("blocked_globals"), Json::array({"acme.meta.ModelCard"}));
  const Json& fixed = records.at("acme_release|bookworm|sid|allowlist");
  EXPECT_EQ(fixed.at("outcome"), "pass") << fixed.dump();
  EXPECT_EQ(fixed.at("allowlist"), Json::array({"acme.meta.ModelCard"}));
  EXPECT_EQ(records.at("acme_release|sid|bookworm|unsafe").at("outcome"), "pass");
  const Json& unsaved = records.at("needs_gpu|sid|bookworm|default");
  EXPECT_EQ(unsaved.at("outcome"), "skipped");
  EXPECT_EQ(unsaved.at("detail"), "sid could not save it: RuntimeError no CUDA device");
}

TEST(CliRunTest, ResumeKeepsRecordedCellsAndEndsWithTheSameResults) {
  test_support::TempDir dir;
  auto out = dir.path() / "out";
  std::vector<std::string> args = {"-q",      "run",
                                   "--envs",  "bookworm,trixie",
                                   "--cases", "argparse_namespace,python_set",
                                   "--modes", "default,weights_only,allowlist",
                                   "--out",   out.string()};
  ASSERT_TRUE(loadmatrix_cli(args).succeeded());
  auto complete = records_by_key(out / "results.json");
  ASSERT_EQ(complete.size(), 2u * 2 * 2 * 3);

  // As if the driver had been killed: half the journal kept, the last line torn.
  std::string journal = read_text_file(out / "records.jsonl").value();
  size_t half = 0;
  for (size_t lines = 0; lines < complete.size() / 2; ++lines) {
    half = journal.find('\n', half) + 1;
  }
  ASSERT_TRUE(
      write_output_file(out / "records.jsonl", journal.substr(0, half) + "{\"case\": \"arg"));
  std::filesystem::remove(out / "results.json");

  args.push_back("--resume");
  ProcessResult resumed = loadmatrix_cli(args);
  ASSERT_TRUE(resumed.succeeded()) << resumed.stderr_text;
  EXPECT_NE(resumed.stdout_text.find(
                fmt::format("({} run now, {} resumed)", complete.size() / 2, complete.size() / 2)),
            std::string::npos)
      << resumed.stdout_text;
  auto after = records_by_key(out / "results.json");
  ASSERT_EQ(after.size(), complete.size());
  for (const auto& [key, record] : complete) {
    EXPECT_EQ(after.at(key).at("outcome"), record.at("outcome")) << key;
    EXPECT_EQ(after.at(key).at("blocked_globals"), record.at("blocked_globals")) << key;
  }
}

TEST(CliRunTest, BadRunArgumentsAreNamed) {
  ProcessResult mode = loadmatrix_cli({"run", "--modes", "weights-only"});
  EXPECT_EQ(mode.exit_code, 2);
  EXPECT_NE(mode.stderr_text.find("--modes: unknown mode 'weights-only' (known: default, "
                                  "weights_only, unsafe, mmap, forced, allowlist, cpp_pickle, "
                                  "cpp_jit)"),
            std::string::npos)
      << mode.stderr_text;
  ProcessResult cases = loadmatrix_cli({"run", "--cases", "no_such_case*"});
  EXPECT_EQ(cases.exit_code, 2);
  EXPECT_NE(cases.stderr_text.find("--cases: no case matches"), std::string::npos);
}

TEST(CliRunTest, ExitCodesFollowTheFailOnPolicy) {
  test_support::TempDir dir;
  auto out = dir.path() / "out";
  std::vector<std::string> args = {"-q",      "run",
                                   "--envs",  "bookworm,trixie",
                                   "--cases", "argparse_namespace",
                                   "--modes", "default,allowlist",
                                   "--out",   out.string()};
  ProcessResult run = loadmatrix_cli(args);
  EXPECT_EQ(run.exit_code, 0) << "no baseline: nothing is new" << run.stderr_text;
  for (const char* file : {"results.json", "report.html", "summary.md", "junit.xml"}) {
    EXPECT_TRUE(std::filesystem::exists(out / file)) << file;
  }
  EXPECT_NE(run.stdout_text.find("bookworm (1.13.0a0) -> trixie (2.6.0+debian): 2 regressions"),
            std::string::npos)
      << run.stdout_text;

  ProcessResult strict =
      loadmatrix_cli({"report", (out / "results.json").string(), "--fail-on", "regressions"});
  EXPECT_EQ(strict.exit_code, 1);
  EXPECT_NE(strict.stderr_text.find("failing (--fail-on regressions): 2 regression(s) from "
                                    "1.13.0a0 to 2.6.0+debian"),
            std::string::npos)
      << strict.stderr_text;

  // A baseline in which everything passed: both blocked cells (one per producer) are new.
  Json baseline = read_json_file(out / "results.json").value();
  for (auto& record : baseline["records"]) {
    record["outcome"] = "pass";
  }
  ASSERT_TRUE(write_json_file(dir.path() / "baseline.json", baseline));
  ProcessResult diff =
      loadmatrix_cli({"diff", (dir.path() / "baseline.json").string(),
                      (out / "results.json").string(), "--out", (dir.path() / "diff").string()});
  EXPECT_EQ(diff.exit_code, 1);
  EXPECT_NE(diff.stdout_text.find("2 new failures, 0 fixed"), std::string::npos)
      << diff.stdout_text;
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "diff" / "report.html"));
  EXPECT_EQ(loadmatrix_cli({"diff", (dir.path() / "baseline.json").string(),
                            (out / "results.json").string(), "--out",
                            (dir.path() / "diff").string(), "--fail-on", "none"})
                .exit_code,
            0);

  ProcessResult unknown =
      loadmatrix_cli({"report", (out / "results.json").string(), "--fail-on", "sometimes"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.stderr_text.find("--fail-on: unknown policy 'sometimes' (known: none, new, "
                                     "regressions, any)"),
            std::string::npos);
  ProcessResult missing = loadmatrix_cli({"report", (dir.path() / "nope.json").string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.stderr_text.find("nope.json: cannot open: No such file or directory"),
            std::string::npos);
}

// The CI fan-out on one machine: save per env, load per shard from the saved files, merge.
TEST(CliRunTest, ShardsMergeIntoTheUnshardedResult) {
  test_support::TempDir dir;
  auto root = dir.path();
  std::vector<std::string> selection = {"--cases",
                                        "argparse_namespace,python_set,opacus_clone_module",
                                        "--modes", "default,weights_only,allowlist"};
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> full = {"-q", "run"};
    full.insert(full.end(), args.begin(), args.end());
    full.insert(full.end(), selection.begin(), selection.end());
    ProcessResult result = loadmatrix_cli(full);
    EXPECT_TRUE(result.succeeded()) << result.stderr_text;
    return result;
  };
  run({"--envs", "bookworm,trixie", "--out", (root / "whole").string()});
  std::filesystem::create_directories(root / "checkpoints");
  for (const char* env : {"bookworm", "trixie"}) {
    run({"--envs", env, "--save-only", "--out", (root / "save" / env).string()});
    std::filesystem::copy(root / "save" / env / "checkpoints" / env, root / "checkpoints" / env,
                          std::filesystem::copy_options::recursive);
  }
  for (const char* shard : {"1/2", "2/2"}) {
    ProcessResult part = run({"--envs", "bookworm,trixie", "--shard", shard, "--checkpoints",
                              (root / "checkpoints").string(), "--out",
                              (root / ("shard" + std::string(1, shard[0]))).string()});
    EXPECT_NE(part.stdout_text.find("13 cells"), std::string::npos) << part.stdout_text;
  }
  ProcessResult merged = loadmatrix_cli({"-q", "merge", (root / "shard1" / "results.json").string(),
                                         (root / "shard2" / "results.json").string(), "--out",
                                         (root / "merged").string()});
  ASSERT_TRUE(merged.succeeded()) << merged.stderr_text;
  EXPECT_EQ(read_text_file(root / "merged" / "summary.md").value(),
            read_text_file(root / "whole" / "summary.md").value());
  auto whole = records_by_key(root / "whole" / "results.json");
  auto combined = records_by_key(root / "merged" / "results.json");
  ASSERT_EQ(combined.size(), whole.size());
  for (const auto& [key, record] : whole) {
    EXPECT_EQ(combined.at(key).at("outcome"), record.at("outcome")) << key;
    EXPECT_EQ(combined.at(key).at("blocked_globals"), record.at("blocked_globals")) << key;
  }

  ProcessResult partial =
      loadmatrix_cli({"-q", "merge", (root / "shard1" / "results.json").string(), "--out",
                      (root / "partial").string()});
  EXPECT_EQ(partial.exit_code, 2);
  EXPECT_NE(partial.stderr_text.find("merge: 13 cell(s) missing"), std::string::npos)
      << partial.stderr_text;
  EXPECT_TRUE(std::filesystem::exists(root / "partial" / "results.json"));

  // A producer's folder that lacks a case: its cells say so instead of guessing.
  std::filesystem::remove(root / "checkpoints" / "bookworm" / "python_set.expect.json");
  run({"--envs", "bookworm,trixie", "--shard", "1/2", "--checkpoints",
       (root / "checkpoints").string(), "--out", (root / "shard1-again").string()});
  auto again = records_by_key(root / "shard1-again" / "results.json");
  const Json& lost = again.at("python_set|bookworm|bookworm|default");
  EXPECT_EQ(lost.at("outcome"), "skipped");
  EXPECT_EQ(lost.at("detail").get<std::string>().rfind("no checkpoint from bookworm: ", 0), 0u)
      << lost.dump();
}

// scripts/ci-nightly, the workflow's plain-shell twin, end to end on a small selection.
TEST(CliRunTest, TheNightlyScriptFailsOnlyOnNewFailures) {
  test_support::TempDir dir;
  auto script = (resources().home / "scripts" / "ci-nightly").string();
  ProcessSpec spec;
  spec.argv = {script, (dir.path() / "night1").string()};
  spec.env = {"ENVS=bookworm,trixie", "CASES=argparse_namespace,python_set",
              "LOADMATRIX_BUILD_DIR=" +
                  std::filesystem::path(LOADMATRIX_CLI).parent_path().parent_path().string()};
  spec.timeout = std::chrono::minutes(10);
  SystemProcessRunner runner;
  ProcessResult first = runner.run(spec);
  ASSERT_EQ(first.exit_code, 0) << first.stdout_text << first.stderr_text;
  auto merged = dir.path() / "night1" / "merged" / "results.json";
  ASSERT_TRUE(std::filesystem::exists(merged));

  // Against a night on which everything passed, tonight's failures are new.
  Json baseline = read_json_file(merged).value();
  for (auto& record : baseline["records"]) {
    record["outcome"] = "pass";
    record["blocked_globals"] = Json::array();
  }
  ASSERT_TRUE(write_json_file(dir.path() / "good-night.json", baseline));
  spec.argv = {script, (dir.path() / "night2").string(), (dir.path() / "good-night.json").string()};
  ProcessResult second = runner.run(spec);
  EXPECT_EQ(second.exit_code, 1) << second.stdout_text << second.stderr_text;
  EXPECT_NE(second.stderr_text.find("new failure(s) against the baseline"), std::string::npos);
  // Against itself nothing is new.
  spec.argv = {script, (dir.path() / "night3").string(), merged.string()};
  EXPECT_EQ(runner.run(spec).exit_code, 0);
}

// Fork per cell: a load that kills its process is that cell's crash, and the cells after it
// still run in the same worker.
TEST(CliRunTest, ACellThatCrashesIsRecordedAndTheRestGoOn) {
  test_support::TempDir dir;
  std::filesystem::create_directories(dir.path() / "src" / "acme");
  std::ofstream(dir.path() / "src" / "acme" / "__init__.py") << "";
  // Segfaults while being unpickled, but only under Python 3.13 (trixie): the 3.11 producer's
  // own read-back survives it.
  std::ofstream(dir.path() / "src" / "acme" / "crash.py")
      << "import os, signal, sys\n"
         "class Crasher:\n"
         "    def __setstate__(self, state):\n"
         "        if sys.version_info[:2] == (3, 13):\n"
         "            os.kill(os.getpid(), signal.SIGSEGV)\n"
         "        self.__dict__.update(state)\n";
  std::filesystem::create_directories(dir.path() / "ours");
  std::ofstream(dir.path() / "ours" / "a_crasher.py")
      << "\"\"\"A pickle whose loading kills the process, as a broken C extension would.\"\"\"\n"
         "from acme.crash import Crasher\n\n"
         "def build():\n    c = Crasher()\n    c.armed = True\n    return {'c': c}\n";
  std::ofstream(dir.path() / "ours" / "b_plain.py")
      << "\"\"\"Plain weights, loaded after the crash by the same worker.\"\"\"\nimport torch\n\n"
         "def build():\n    return {'w': torch.ones(3)}\n";
  auto out = dir.path() / "out";
  ProcessResult run =
      loadmatrix_cli({"-q", "run", "--envs", "bookworm,trixie", "--cases",
                      (dir.path() / "ours").string(), "--no-builtin-cases", "--python-path",
                      (dir.path() / "src").string(), "--modes", "unsafe", "--out", out.string()});
  ASSERT_TRUE(run.succeeded()) << run.stderr_text;
  auto records = records_by_key(out / "results.json");
  const Json& crashed = records.at("a_crasher|bookworm|trixie|unsafe");
  EXPECT_EQ(crashed.at("outcome"), "crash");
  EXPECT_EQ(crashed.at("detail"), "killed by signal 11 (Segmentation fault)");
  EXPECT_EQ(records.at("a_crasher|bookworm|bookworm|unsafe").at("outcome"), "pass");
  // trixie's own save crashed in its read-back: the cells say so.
  const Json& unsaved = records.at("a_crasher|trixie|bookworm|unsafe");
  EXPECT_EQ(unsaved.at("outcome"), "skipped");
  EXPECT_NE(unsaved.at("detail").get<std::string>().find("killed by signal 11"), std::string::npos)
      << unsaved.dump();
  for (const char* producer : {"bookworm", "trixie"}) {
    EXPECT_EQ(records.at(std::string("b_plain|") + producer + "|trixie|unsafe").at("outcome"),
              "pass");
  }
}

// Fault injection: loads that segfault, abort, hang, eat memory past the cell limit, exit
// without a result, or write garbage on the worker's protocol channel. Each is classified, the
// worker is replaced where it must be, and the plain cells between them keep their results.
// The faults fire only under Python 3.13 (trixie), so the 3.11 producer's read-back is clean.
TEST(CliRunTest, FaultsAreClassifiedAndEveryOtherCellKeepsItsResult) {
  test_support::TempDir dir;
  test_support::write_fault_cases(dir.path(), "sys.version_info[:2] == (3, 13)",
                                  test_support::all_fault_kinds());
  auto out = dir.path() / "out";
  ProcessResult run = loadmatrix_cli(
      {"-q", "run", "--envs", "bookworm,trixie", "--cases", (dir.path() / "cases").string(),
       "--no-builtin-cases", "--python-path", (dir.path() / "src").string(), "--modes", "unsafe",
       "--cell-timeout", "8", "--cell-memory", "4", "--out", out.string()});
  ASSERT_TRUE(run.succeeded()) << run.stderr_text;
  auto records = records_by_key(out / "results.json");
  // Armed under Python 3.13 (trixie); under 3.11 the same files load in bookworm.
  test_support::expect_faults_classified(records, test_support::all_fault_kinds(),
                                         "bookworm|trixie", "bookworm|bookworm");
  // Nothing recorded was lost: the journal holds every cell of results.json, once.
  std::ifstream journal(out / "records.jsonl");
  size_t lines = 0;
  for (std::string line; std::getline(journal, line);) {
    lines += !line.empty();
  }
  EXPECT_EQ(lines, records.size());
}

// kill -9 of the driver mid-run, then --resume: the same results as a run never interrupted.
TEST(CliRunTest, ResumeAfterKillNineGivesTheUninterruptedResults) {
  test_support::TempDir dir;
  std::vector<std::string> args = {"run",           "--envs",     "bookworm,trixie",
                                   "--cases",       "numpy_*",    "argparse_*",
                                   "defaultdict_*", "state_dict", "--out"};
  auto killed = dir.path() / "killed";
  std::string command = std::string(LOADMATRIX_CLI) + " -q";
  for (const auto& arg : args) {
    command += " '" + arg + "'";
  }
  // Start the run, wait for 40 journaled cells, then SIGKILL the driver alone.
  ProcessSpec kill;
  kill.argv = {"bash", "-c",
               command + " '" + killed.string() + "' & pid=$!\n" + "until [ \"$(wc -l < '" +
                   (killed / "records.jsonl").string() +
                   "' 2>/dev/null || echo 0)\" -ge 40 ]; do sleep 0.05; done\n"
                   "kill -9 $pid; wait $pid; echo killed $?"};
  kill.timeout = std::chrono::minutes(5);
  SystemProcessRunner runner;
  ProcessResult interrupted = runner.run(kill);
  ASSERT_NE(interrupted.stdout_text.find("killed 137"), std::string::npos)
      << interrupted.stdout_text << interrupted.stderr_text;
  if (std::filesystem::exists(killed / "results.json")) {
    EXPECT_TRUE(read_json_file(killed / "results.json")) << "never left unreadable";
  }

  std::vector<std::string> resume = {"-q"};
  resume.insert(resume.end(), args.begin(), args.end());
  resume.insert(resume.end(), {killed.string(), "--resume"});
  ProcessResult resumed = loadmatrix_cli(resume);
  ASSERT_TRUE(resumed.succeeded()) << resumed.stderr_text;
  std::vector<std::string> whole = {"-q"};
  whole.insert(whole.end(), args.begin(), args.end());
  whole.push_back((dir.path() / "whole").string());
  ProcessResult uninterrupted = loadmatrix_cli(whole);
  ASSERT_TRUE(uninterrupted.succeeded()) << uninterrupted.stderr_text;

  auto after_resume = records_by_key(killed / "results.json");
  auto expected = records_by_key(dir.path() / "whole" / "results.json");
  ASSERT_EQ(after_resume.size(), expected.size());
  EXPECT_GE(expected.size(), 200u);
  for (const auto& [key, record] : expected) {
    ASSERT_TRUE(after_resume.contains(key)) << key;
    const Json& got = after_resume.at(key);
    for (const char* field : {"outcome", "reason", "blocked_globals", "allowlist", "error_type"}) {
      EXPECT_EQ(got.value(field, Json()), record.value(field, Json())) << key << " " << field;
    }
  }
}

// One file written: `-` is standard output, and the table moves to stderr; two documents cannot
// both be standard output. With no env provisioned the static findings still come out.
TEST(CliTest, ASarifOrJsonOfDashIsStandardOutputAndTheTableMovesToStderr) {
  test_support::TempDir dir;
  std::filesystem::create_directories(dir.path() / "envs");
  test_support::write_bytes(dir.path() / "evil.pkl", "cposix\nsystem\n(S'id'\ntR.");
  std::string env_dir = (dir.path() / "envs").string();
  ProcessResult sarif =
      loadmatrix_cli({"--env-dir", env_dir, "scan", (dir.path() / "evil.pkl").string(),
                      "--static-only", "--sarif", "-"});
  EXPECT_EQ(sarif.exit_code, 1) << sarif.stderr_text; // a dangerous global is a finding
  auto log = parse_json(sarif.stdout_text, "stdout");
  ASSERT_TRUE(log) << sarif.stdout_text;
  EXPECT_EQ((*log)["version"], "2.1.0");
  EXPECT_EQ((*log)["runs"][0]["results"][0]["ruleId"], "LMS001");
  EXPECT_NE(sarif.stderr_text.find("DANGEROUS globals: posix.system"), std::string::npos);
  // Not a terminal: no colour, whatever the table holds.
  EXPECT_EQ(sarif.stderr_text.find('\x1b'), std::string::npos);
  ProcessResult colour =
      loadmatrix_cli({"--env-dir", env_dir, "scan", (dir.path() / "evil.pkl").string(),
                      "--static-only", "--color", "always"});
  EXPECT_NE(colour.stdout_text.find("\x1b[31;1mDANGEROUS globals\x1b[0m"), std::string::npos)
      << colour.stdout_text;
  ProcessResult both =
      loadmatrix_cli({"--env-dir", env_dir, "scan", (dir.path() / "evil.pkl").string(),
                      "--static-only", "--json", "-", "--sarif", "-"});
  EXPECT_EQ(both.exit_code, 4);
  EXPECT_NE(both.stderr_text.find("only one of them can be standard output"), std::string::npos)
      << both.stderr_text;
  ProcessResult bad = loadmatrix_cli({"--color", "sometimes", "envs", "list"});
  EXPECT_EQ(bad.exit_code, 4);
}

// scripts/ci-plan, the nightly workflow's GitHub Actions matrix: one save and one load job per env;
// a consecutive matrix's load job names only its env and the previous one, an all-pairs matrix's
// every env with its own shard.
TEST(CliTest, CiPlanGivesEachEnvASaveJobAndALoadJobWithItsOwnShard) {
  auto plan = [](const std::string& matrix) {
    SystemProcessRunner runner;
    ProcessSpec spec;
    spec.argv = {"python3", (resources().home / "scripts" / "ci-plan").string(),
                 (resources().home / "matrix" / matrix).string()};
    ProcessResult result = runner.run(spec);
    EXPECT_TRUE(result.succeeded()) << result.describe() << result.stderr_text;
    return parse_json(result.stdout_text, "ci-plan").value_or_throw();
  };
  Json releases = plan("releases.json");
  ASSERT_EQ(releases.at("save").size(), 18u);
  ASSERT_EQ(releases.at("load").size(), 18u);
  EXPECT_EQ(
      releases.at("load")[0],
      Json({{"env", "bullseye"}, {"kind", "debian"}, {"envs", "bullseye"}, {"shard", "1/1"}}));
  EXPECT_EQ(releases.at("load")[9], Json({{"env", "torch-2.7"},
                                          {"kind", "pip"},
                                          {"envs", "torch-2.6,torch-2.7"},
                                          {"shard", "2/2"}}));
  Json debian = plan("debian.json");
  EXPECT_EQ(debian.at("load")[2].at("envs"), "bullseye,bookworm,trixie,sid");
  EXPECT_EQ(debian.at("load")[2].at("shard"), "3/4");
}
