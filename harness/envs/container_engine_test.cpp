#include "envs/container_engine.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

// Answers every command with `answer` and remembers what it was asked to run.
class RecordingRunner final : public ProcessRunner {
public:
  explicit RecordingRunner(ProcessResult answer) : answer_(std::move(answer)) {}
  ProcessResult run(const ProcessSpec& spec) override {
    commands.push_back(spec.argv);
    return answer_;
  }
  std::vector<std::vector<std::string>> commands;

private:
  ProcessResult answer_;
};

ProcessResult exited(int code, std::string out, std::string err = "") {
  ProcessResult result;
  result.termination = Termination::exited;
  result.exit_code = code;
  result.stdout_text = std::move(out);
  result.stderr_text = std::move(err);
  return result;
}

const ContainerEngine kPodman({"podman", "--runtime", "runc"}, "localhost/lm:1", {});

} // namespace

TEST(ContainerEngineTest, RemoveKillsFirstThenRemovesWithTheEnginesGlobalOptions) {
  RecordingRunner runner(exited(125, "", "Error: no container with name or ID"));
  kPodman.remove(runner, "loadmatrix-1-2-abc");
  EXPECT_EQ(runner.commands,
            (std::vector<std::vector<std::string>>{
                {"podman", "--runtime", "runc", "kill", "loadmatrix-1-2-abc"},
                {"podman", "--runtime", "runc", "rm", "-f", "-v", "loadmatrix-1-2-abc"}}));
}

TEST(ContainerEngineTest, AnImageIdIsTheTrimmedAnswerAndAMissingImageIsAnError) {
  RecordingRunner found(exited(0, "sha256:0123abcd\n"));
  EXPECT_EQ(kPodman.image_id(found).value_or_throw(), "sha256:0123abcd");
  RecordingRunner missing(exited(125, "", "Error: localhost/lm:1: image not known\n"));
  auto id = kPodman.image_id(missing);
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().message,
            "podman image inspect localhost/lm:1 (exit status 125): Error: localhost/lm:1: image "
            "not known");
}

TEST(ContainerEngineTest, LeftoversAreTheLabelledContainersStillThere) {
  RecordingRunner runner(exited(0, "loadmatrix-7-0-aa\n\nloadmatrix-7-1-aa\n"));
  EXPECT_EQ(kPodman.leftovers(runner).value_or_throw(),
            (std::vector<std::string>{"loadmatrix-7-0-aa", "loadmatrix-7-1-aa"}));
  EXPECT_EQ(runner.commands.front(),
            (std::vector<std::string>{"podman", "--runtime", "runc", "ps", "-a", "--filter",
                                      "label=loadmatrix.sandbox", "--format", "{{.Names}}"}));
}

TEST(ContainerEngineTest, TheTwoMeasuredEngineFailuresComeWithTheirFix) {
  EXPECT_NE(engine_hint("Error: runc: runc create failed: unable to start container process: "
                        "error during container init: error setting rlimits for ready process: "
                        "error setting rlimit type 7: operation not permitted")
                .find("--ulimit=nofile=16384:16384"),
            std::string::npos);
  EXPECT_NE(engine_hint("crun: cannot set cgroup controllers").find("\"--runtime\", \"runc\""),
            std::string::npos);
  EXPECT_EQ(engine_hint("python3: No module named torch"), "");
}
