#include "util/process.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

using namespace loadmatrix;
using namespace std::chrono_literals;

namespace {

ProcessResult run_child(std::vector<std::string> args, std::chrono::milliseconds timeout = 10s,
                        size_t output_limit = 1 << 20) {
  ProcessSpec spec;
  spec.argv = {LOADMATRIX_FAKE_CHILD};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = timeout;
  spec.kill_grace = 500ms;
  spec.output_limit = output_limit;
  SystemProcessRunner runner;
  return runner.run(spec);
}

// A zombie counts as dead: it is gone but for an entry that whoever inherited it (here
// possibly a PID 1 that never reaps) has not collected.
bool process_alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) {
    return false;
  }
  auto state = line.find(") ");
  return state != std::string::npos && line[state + 2] != 'Z';
}

} // namespace

TEST(ProcessRunnerTest, KeepsExitCodeAndBothStreams) {
  ProcessResult result = run_child({"exit", "3"});
  EXPECT_EQ(result.termination, Termination::exited);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_EQ(result.stdout_text, "out\n");
  EXPECT_EQ(result.stderr_text, "err\n");
  EXPECT_EQ(result.describe(), "exit status 3");
}

TEST(ProcessRunnerTest, ReportsSignalApartFromExitStatus) {
  ProcessResult result = run_child({"signal", std::to_string(SIGSEGV)});
  EXPECT_EQ(result.termination, Termination::signaled);
  EXPECT_EQ(result.signal, SIGSEGV);
  EXPECT_NE(result.describe().find("signal 11"), std::string::npos);
}

TEST(ProcessRunnerTest, TimeoutKillsTheChildAndItsGrandchildren) {
  auto pid_file =
      std::filesystem::temp_directory_path() / ("lm-grandchild-" + std::to_string(getpid()));
  std::filesystem::remove(pid_file);
  ProcessResult result = run_child({"fork-sleep", "60", pid_file.string()}, 1s);
  EXPECT_EQ(result.termination, Termination::timed_out);
  EXPECT_LT(result.duration, 5s);
  pid_t grandchild = 0;
  std::ifstream(pid_file) >> grandchild;
  ASSERT_GT(grandchild, 0);
  // The grandchild was SIGTERMed with the group; give the kernel a moment to reap it.
  for (int i = 0; i < 100 && process_alive(grandchild); ++i) {
    usleep(10000);
  }
  EXPECT_FALSE(process_alive(grandchild)) << "grandchild " << grandchild << " survived";
  std::filesystem::remove(pid_file);
}

TEST(ProcessRunnerTest, EscalatesToKillWhenTermIsIgnored) {
  ProcessResult result = run_child({"ignore-term", "60"}, 500ms);
  EXPECT_EQ(result.termination, Termination::timed_out);
  EXPECT_LT(result.duration, 5s);
}

TEST(ProcessRunnerTest, StopsReadingWhenAnEscapedProcessHoldsThePipe) {
  ProcessResult result = run_child({"orphan-holds-pipe", "30"}, 20s);
  EXPECT_EQ(result.termination, Termination::exited);
  EXPECT_EQ(result.stdout_text, "parent done\n");
  EXPECT_LT(result.duration, 3s);
}

TEST(ProcessRunnerTest, BoundsCapturedOutputWithAMarker) {
  ProcessResult result = run_child({"flood", std::to_string(8 << 20)}, 20s, 64 * 1024);
  EXPECT_EQ(result.termination, Termination::exited);
  EXPECT_TRUE(result.stdout_truncated);
  EXPECT_LT(result.stdout_text.size(), 64 * 1024 + 200);
  EXPECT_NE(result.stdout_text.find("[loadmatrix: output truncated after 65536 bytes]"),
            std::string::npos);
}

TEST(ProcessRunnerTest, TruncationNeverSplitsAUtf8Sequence) {
  ProcessResult result = run_child({"flood-utf8", "1000"}, 10s, 1001);
  ASSERT_TRUE(result.stdout_truncated);
  std::string kept = result.stdout_text.substr(0, result.stdout_text.find('\n'));
  EXPECT_EQ(kept.size(), 1000u);
}

TEST(ProcessRunnerTest, StdinIsDevNull) {
  ProcessResult result = run_child({"read-stdin"});
  EXPECT_EQ(result.stdout_text, "eof\n");
}

TEST(ProcessRunnerTest, ReportsAProgramThatCannotStart) {
  SystemProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"/nonexistent/loadmatrix-no-such-program"};
  ProcessResult result = runner.run(spec);
  EXPECT_EQ(result.termination, Termination::spawn_failed);
  EXPECT_NE(result.spawn_error.find("/nonexistent/loadmatrix-no-such-program"), std::string::npos);
  spec.argv = {"loadmatrix-no-such-program-on-path"};
  result = runner.run(spec);
  EXPECT_EQ(result.termination, Termination::spawn_failed);
  EXPECT_NE(result.spawn_error.find("not found on PATH"), std::string::npos);
}
