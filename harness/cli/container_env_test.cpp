// The container kind run for real: matrix/containers.json's images, made by `loadmatrix envs
// provision` from the trixie and bullseye chroots and run by podman, against those chroots.
// One ctest entry runs these in order (harness/CMakeLists.txt), so "no container is left" is
// a statement about this suite's own containers.
#include "cli/resources.h"
#include "envs/container_engine.h"
#include "matrix/matrix.h"
#include "testing/checkpoint_writer.h"
#include "testing/cli_runs.h"
#include "testing/fault_cases.h"
#include "testing/test_envs.h"
#include "util/json_file.h"

#include <fmt/core.h>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <regex>
#include <set>
#include <thread>

using namespace loadmatrix;
using namespace std::string_literals;
using test_support::records_by_key;

namespace {

std::string containers_matrix() {
  return (resources().home / "matrix" / "containers.json").string();
}

ContainerEngine engine_of(const std::string& env) {
  Matrix matrix = load_matrix(containers_matrix());
  const EnvSpec* spec = matrix.find_env(env);
  return ContainerEngine(spec->engine, spec->image, spec->run_options);
}

// Containers this suite started that still exist, running or not.
std::vector<std::string> leftover_containers() {
  SystemProcessRunner runner;
  return engine_of("trixie-image").leftovers(runner).value_or_throw();
}

// A record with its env names made the same: what must not depend on the kind. Durations
// differ run to run; a repr's memory address differs process to process.
std::string comparable(const Json& record) {
  std::string text = dump_json(record);
  text = std::regex_replace(text, std::regex("trixie-image"), "trixie");
  text = std::regex_replace(text, std::regex("\"duration_ms\": ?[0-9.]+"), "\"duration_ms\":0");
  return std::regex_replace(text, std::regex("0x[0-9a-f]{6,}"), "0x...");
}

} // namespace

TEST(ContainerEnvTest, TheImageGivesTheChrootsVerdictInEveryCellOfTheDefaultCorpus) {
  test_support::TempDir dir;
  ProcessResult run =
      test_support::run_loadmatrix({"-q", "run", "--matrix", containers_matrix(), "--envs",
                                    "trixie,trixie-image", "--out", (dir.path() / "out").string()},
                                   std::chrono::minutes(30));
  ASSERT_EQ(run.termination, Termination::exited) << run.describe();
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  auto records = records_by_key(dir.path() / "out" / "results.json");
  // Each cell of the chroot pair, against the same cell with the image as the producer, the
  // consumer, or both.
  size_t compared = 0;
  size_t chroot_cells = 0;
  std::set<std::string> outcomes;
  for (const auto& [key, record] : records) {
    if (record.at("producer") != "trixie" || record.at("consumer") != "trixie") {
      continue;
    }
    std::string name = record.at("case").get<std::string>();
    std::string mode = record.at("mode").get<std::string>();
    // A scenario saves and loads in one env: it has no cross cells.
    std::vector<std::string> others = {"trixie-image|trixie-image"};
    if (mode != "scenario") {
      others.insert(others.end(), {"trixie|trixie-image", "trixie-image|trixie"});
    }
    for (const auto& other : others) {
      std::string other_key = fmt::format("{}|{}|{}", name, other, mode);
      ASSERT_TRUE(records.contains(other_key)) << other_key;
      EXPECT_EQ(comparable(records.at(other_key)), comparable(record)) << other_key;
      ++compared;
    }
    outcomes.insert(record.at("outcome").get<std::string>());
    ++chroot_cells;
  }
  EXPECT_EQ(compared + chroot_cells, records.size()); // every record was in one comparison
  EXPECT_GT(compared, 1000u);
  // The corpus holds loads that pass, loads that are blocked, and C++ loads that fail.
  EXPECT_TRUE(outcomes.contains("pass") && outcomes.contains("blocked")) << compared;

  // scan of the chroot's checkpoints: the image predicts, loads, and verifies each fix as the
  // chroot does.
  ProcessResult scan = test_support::run_loadmatrix(
      {"-q", "scan", (dir.path() / "out" / "checkpoints" / "trixie").string(), "--matrix",
       containers_matrix(), "--envs", "trixie,trixie-image", "--python-path",
       (resources().cases_dir / "fixtures").string(), "--out", (dir.path() / "scan").string()});
  ASSERT_EQ(scan.termination, Termination::exited) << scan.describe();
  Json scanned = read_json_file(dir.path() / "scan" / "scan.json").value_or_throw();
  size_t scan_cells = 0;
  for (const auto& file : scanned.at("files")) {
    std::map<std::string, std::map<std::string, std::string>> by_env; // env -> mode -> cell
    for (const auto& cell : file.value("results", Json::array())) {
      by_env[cell.at("env")][cell.at("mode")] = comparable(cell);
    }
    EXPECT_EQ(by_env["trixie-image"], by_env["trixie"]) << file.at("path");
    scan_cells += by_env["trixie"].size();
  }
  EXPECT_GT(scan_cells, 80u);
  EXPECT_TRUE(leftover_containers().empty());
}

// audit parses the code with the image's own Python (ast) and judges each call site there.
TEST(ContainerEnvTest, AuditParsesAndJudgesInTheImageAsInTheChroot) {
  test_support::TempDir dir;
  std::map<std::string, Json> audits;
  for (const char* env : {"trixie", "trixie-image"}) {
    auto json = dir.path() / (std::string(env) + ".json");
    ProcessResult audit =
        test_support::run_loadmatrix({"-q", "audit", resources().cases_dir.string(), "--matrix",
                                      containers_matrix(), "--envs", env, "--json", json.string()});
    ASSERT_EQ(audit.termination, Termination::exited) << audit.describe();
    audits[env] = read_json_file(json).value_or_throw();
    EXPECT_EQ(audits[env].at("parser_env"), env);
  }
  EXPECT_GT(audits["trixie"].at("call_sites").size(), 3u);
  EXPECT_EQ(comparable(audits["trixie-image"].at("call_sites")),
            comparable(audits["trixie"].at("call_sites")));
  EXPECT_TRUE(leftover_containers().empty());
}

// The faults of CliRunTest.FaultsAreClassifiedAndEveryOtherCellKeepsItsResult, armed only inside
// a container (where loadmatrix-sandbox is mounted at /loadmatrix/.init), so the chroot's own
// save reads back clean and the image consumes them.
TEST(ContainerEnvTest, FaultsInsideTheContainerAreClassifiedAsInTheOtherKinds) {
  test_support::TempDir dir;
  test_support::write_fault_cases(dir.path(), "os.path.exists('/loadmatrix/.init')",
                                  test_support::all_fault_kinds());
  auto out = dir.path() / "out";
  ProcessResult run = test_support::run_loadmatrix(
      {"-q", "run", "--matrix", containers_matrix(), "--envs", "trixie,trixie-image", "--cases",
       (dir.path() / "cases").string(), "--no-builtin-cases", "--python-path",
       (dir.path() / "src").string(), "--modes", "unsafe", "--cell-timeout", "8", "--cell-memory",
       "4", "--out", out.string()});
  ASSERT_TRUE(run.succeeded()) << run.stderr_text;
  // Armed in the image; unarmed in the chroot, the same files load there.
  test_support::expect_faults_classified(records_by_key(out / "results.json"),
                                         test_support::all_fault_kinds(), "trixie|trixie-image",
                                         "trixie|trixie");
  // The hung load was killed, and every container the run started is gone.
  EXPECT_TRUE(leftover_containers().empty());
}

// A worker that stops answering is killed by the driver, not only by itself: the container
// is removed with its client, and the next cell gets a fresh one.
TEST(ContainerEnvTest, AWorkerThatHangsIsRemovedWithItsContainer) {
  test_support::TempDir dir;
  std::filesystem::create_directories(dir.path() / "src" / "stuck");
  // SIGSTOP of the worker itself (the cell's parent): it can no longer answer or reap.
  std::ofstream(dir.path() / "src" / "stuck" / "__init__.py")
      << "import os, signal\n"
         "def freeze(tag):\n"
         "    if os.path.exists('/loadmatrix/.init'):\n"
         "        os.kill(os.getppid(), signal.SIGSTOP)\n"
         "        os.kill(os.getpid(), signal.SIGSTOP)\n"
         "    return tag\n\n"
         "class Stuck:\n"
         "    def __reduce__(self):\n        return (freeze, ('x',))\n";
  std::filesystem::create_directories(dir.path() / "cases");
  std::ofstream(dir.path() / "cases" / "s0_stuck.py")
      << "\"\"\"Freezes its worker.\"\"\"\nfrom stuck import Stuck\n\n"
      << "def build():\n    return {'stuck': Stuck()}\n";
  std::ofstream(dir.path() / "cases" / "s1_plain.py")
      << "\"\"\"Plain weights after it.\"\"\"\nimport torch\n\n"
      << "def build():\n    return {'w': torch.ones(2)}\n";
  auto out = dir.path() / "out";
  ProcessResult run = test_support::run_loadmatrix(
      {"-q", "run", "--matrix", containers_matrix(), "--envs", "trixie,trixie-image", "--cases",
       (dir.path() / "cases").string(), "--no-builtin-cases", "--python-path",
       (dir.path() / "src").string(), "--modes", "unsafe", "--cell-timeout", "2", "--out",
       out.string()});
  ASSERT_TRUE(run.succeeded()) << run.stderr_text;
  auto records = records_by_key(out / "results.json");
  EXPECT_EQ(records.at("s0_stuck|trixie|trixie-image|unsafe").at("outcome"), "timeout");
  EXPECT_EQ(records.at("s1_plain|trixie|trixie-image|unsafe").at("outcome"), "pass");
  EXPECT_TRUE(leftover_containers().empty());
}

// scan --trust in torch 1.7's image: its bare load runs the whole unpickler, so the payload's
// os.system really runs inside the container, and tries to write everywhere it can name.
TEST(ContainerEnvTest, ATrustedPayloadWritesNothingOutsideTheContainer) {
  test_support::TempDir dir;
  auto files = dir.path() / "files";
  std::filesystem::create_directories(files);
  auto canary = dir.path() / "canary";
  auto beside = files / "canary";
  std::string command =
      fmt::format("touch {} {} /tmp/loadmatrix-canary /loadmatrix-canary /root/loadmatrix-canary "
                  "/loadmatrix/.init/loadmatrix-sandbox; echo signaled 9 > "
                  "/loadmatrix/.status/status; for d in /loadmatrix/*; do touch "
                  "$d/loadmatrix-canary; done; sleep 3",
                  canary.string(), beside.string());
  std::string length(4, '\0');
  for (int i = 0; i < 4; ++i) {
    length[static_cast<size_t>(i)] = static_cast<char>((command.size() >> (8 * i)) & 0xff);
  }
  test_support::write_torch_zip(files / "payload.pt",
                                "\x80\x02\x63posix\nsystem\nX"s + length + command + "\x85R."s);
  ::chmod(dir.path().c_str(), 0755);
  ::chmod(files.c_str(), 0755);
  ::chmod((files / "payload.pt").c_str(), 0644);
  auto sandbox_init_before = std::filesystem::last_write_time(resources().shipped.sandbox_init);

  ProcessResult scan = test_support::run_loadmatrix(
      {"scan", files.string(), "--matrix", containers_matrix(), "--envs", "bullseye-image",
       "--trust", "--out", (dir.path() / "out").string()});
  ASSERT_EQ(scan.termination, Termination::exited) << scan.describe();
  EXPECT_EQ(scan.exit_code, 1) << scan.stderr_text; // a dangerous file: a finding
  Json document = read_json_file(dir.path() / "out" / "scan.json").value_or_throw();
  const Json& file = document.at("files").at(0);
  EXPECT_EQ(file.at("verdict"), "dangerous");
  bool ran = false;
  for (const auto& cell : file.at("results")) {
    // 1.7's bare load ran the shell to its end (the load took its 3 s sleep) and returned
    // its status; the status file it tried to forge still says how the load really ended.
    ran = ran || (cell.at("env") == "bullseye-image" && cell.at("mode") == "default" &&
                  cell.at("observed") == "pass" &&
                  cell.at("observation").at("duration_ms").get<double>() >= 3000);
  }
  EXPECT_TRUE(ran) << file.dump();
  EXPECT_FALSE(std::filesystem::exists(canary));
  EXPECT_FALSE(std::filesystem::exists(beside));
  EXPECT_FALSE(std::filesystem::exists("/tmp/loadmatrix-canary"));
  EXPECT_FALSE(std::filesystem::exists("/loadmatrix-canary"));
  EXPECT_FALSE(std::filesystem::exists("/root/loadmatrix-canary"));
  EXPECT_EQ(std::filesystem::last_write_time(resources().shipped.sandbox_init),
            sandbox_init_before);
  std::vector<std::string> in_files;
  for (const auto& entry : std::filesystem::directory_iterator(files)) {
    in_files.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(in_files, std::vector<std::string>{"payload.pt"});
  EXPECT_TRUE(leftover_containers().empty());
}

// kill -9 of the driver mid-run: nobody is left to kill or remove its containers, so each
// must end on its own (the worker reads end-of-file on its closed stdin and exits; --rm
// removes the container), and --resume finishes the run.
TEST(ContainerEnvTest, ADriverKilledMidRunLeavesNoContainerBehind) {
  test_support::TempDir dir;
  auto out = dir.path() / "out";
  std::vector<std::string> args = {"-q",         "run",
                                   "--matrix",   containers_matrix(),
                                   "--envs",     "trixie,trixie-image",
                                   "--cases",    "numpy_*",
                                   "argparse_*", "--out",
                                   out.string()};
  std::string command = LOADMATRIX_CLI;
  for (const auto& arg : args) {
    command += " '" + arg + "'";
  }
  ProcessSpec kill;
  kill.argv = {"bash", "-c",
               command + " & pid=$!\nuntil [ \"$(wc -l < '" + (out / "records.jsonl").string() +
                   "' 2>/dev/null || echo 0)\" -ge 20 ]; do sleep 0.05; done\n"
                   "kill -9 $pid; wait $pid; echo killed $?"};
  kill.timeout = std::chrono::minutes(5);
  SystemProcessRunner runner;
  ProcessResult interrupted = runner.run(kill);
  ASSERT_NE(interrupted.stdout_text.find("killed 137"), std::string::npos)
      << interrupted.stdout_text << interrupted.stderr_text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!leftover_containers().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_TRUE(leftover_containers().empty());

  args.push_back("--resume");
  ProcessResult resumed = test_support::run_loadmatrix(args);
  ASSERT_TRUE(resumed.succeeded()) << resumed.stderr_text;
  EXPECT_GE(records_by_key(out / "results.json").size(), 100u);
  EXPECT_TRUE(leftover_containers().empty());
}
