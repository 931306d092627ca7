// The live progress line: its text, and that it is drawn on a terminal only.
#include "cli/progress_meter.h"
#include "testing/test_envs.h"
#include "util/process.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

TEST(ProgressMeterTest, TheLineCountsUnitsPerEnvAndEstimatesTheRest) {
  std::map<std::string, std::pair<size_t, size_t>> envs = {{"bookworm", {60, 240}},
                                                           {"sid", {60, 240}}};
  EXPECT_EQ(ProgressMeter::render("run", "loads", envs, 10.0, 200),
            "run 120/480 loads (25%) · bookworm 60/240 · sid 60/240 · ETA 30s");
  // Narrow: the per-env shares go first, and the line never wraps.
  std::string narrow = ProgressMeter::render("run", "loads", envs, 100.0, 40);
  EXPECT_EQ(narrow, "run 120/480 loads (25%) · ETA 5m00s");
  EXPECT_LE(display_width(ProgressMeter::render("run", "loads", envs, 1.0, 20)), 20u);
  envs = {{"sid", {240, 240}}};
  EXPECT_EQ(ProgressMeter::render("scan", "files loaded", envs, 3.0, 200),
            "scan 240/240 files loaded (100%) · sid 240/240 · done");
}

namespace {

// `loadmatrix ARGS` under a pseudo-terminal (util-linux's script), as a user's shell runs it;
// the output is what the terminal received.
ProcessResult under_terminal(const std::vector<std::string>& args, std::vector<std::string> env) {
  std::string command = LOADMATRIX_CLI;
  for (const auto& arg : args) {
    command += " '" + arg + "'";
  }
  SystemProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"script", "-qefc", command, "/dev/null"};
  spec.env = std::move(env);
  spec.env.push_back("TERM=xterm");
  spec.timeout = std::chrono::minutes(5);
  return runner.run(spec);
}

} // namespace

TEST(ProgressMeterEnvTest, ALiveLineOnATerminalAndOnlyStageLinesInCi) {
  test_support::open_test_env("bookworm");
  test_support::open_test_env("trixie");
  test_support::TempDir dir;
  std::vector<std::string> args = {
      "run",  "--envs", "bookworm,trixie", "--cases", "argparse_namespace", "--fail-on",
      "none", "--out"};
  auto on_terminal_args = args;
  on_terminal_args.push_back((dir.path() / "tty").string());
  ProcessResult tty = under_terminal(on_terminal_args, {"CI=false"});
  ASSERT_EQ(tty.exit_code, 0) << tty.stdout_text;
  EXPECT_NE(tty.stdout_text.find("\r\x1b[K"), std::string::npos) << tty.stdout_text;
  EXPECT_NE(tty.stdout_text.find("run 4/4 loads (100%)"), std::string::npos) << tty.stdout_text;
  EXPECT_NE(tty.stdout_text.find("loadmatrix: "), std::string::npos); // the stage lines stay

  auto in_ci_args = args;
  in_ci_args.push_back((dir.path() / "ci").string());
  ProcessResult ci = under_terminal(in_ci_args, {"CI=true"});
  ASSERT_EQ(ci.exit_code, 0) << ci.stdout_text;
  EXPECT_EQ(ci.stdout_text.find("\x1b[K"), std::string::npos) << ci.stdout_text;
  EXPECT_NE(ci.stdout_text.find("loadmatrix: "), std::string::npos);
  // Colour: on the terminal by default, never with NO_COLOR (no-color.org) or in a pipe.
  EXPECT_NE(tty.stdout_text.find("\x1b[1m"), std::string::npos); // a bold table heading
  auto no_color_args = args;
  no_color_args.push_back((dir.path() / "nocolor").string());
  ProcessResult no_color = under_terminal(no_color_args, {"CI=true", "NO_COLOR=1"});
  EXPECT_EQ(no_color.stdout_text.find("\x1b["), std::string::npos) << no_color.stdout_text;
}
