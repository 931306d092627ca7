// parse_call_sites' isolation of a file that stops the parser, driven by a fake runner that
// plays audit_calls.py: it answers through the files the real one writes, and stops where told.
#include "audit/call_site_parser.h"
#include "cli/resources.h"
#include "testing/test_envs.h"

#include <fstream>
#include <gtest/gtest.h>
#include <set>

using namespace loadmatrix;

namespace {

// Answers every file of a share in order, except that a run holding "hang.py" stops at it as
// a parse that never returns would, and is killed at its deadline: the other share is cut
// short at "innocent.py" (busy there when the run was killed).
class FakeParser final : public ProcessRunner {
public:
  ProcessResult run(const ProcessSpec& spec) override {
    std::filesystem::path work;
    for (size_t i = 0; i + 2 < spec.argv.size(); ++i) {
      if (spec.argv[i] == "--bind-rw") {
        work = spec.argv[i + 1];
      }
    }
    auto request = read_json_file(work / "request.json");
    ProcessResult result;
    result.termination = Termination::exited;
    result.exit_code = 0;
    if (!request) {
      return result;
    }
    std::vector<std::string> names;
    for (const auto& file : (*request)["files"]) {
      names.push_back(std::filesystem::path(file.get<std::string>()).filename());
    }
    size_t jobs = (*request)["jobs"];
    bool hangs = std::find(names.begin(), names.end(), "hang.py") != names.end();
    runs.push_back(names);
    for (size_t share = 0; share < jobs; ++share) {
      std::ofstream out(work / ("result-" + std::to_string(share) + ".jsonl"));
      for (size_t position = share; position < names.size(); position += jobs) {
        if (names[position] == "hang.py" || (hangs && names[position] == "innocent.py")) {
          break;
        }
        out << Json{{"index", position},
                    {"status", "ok"},
                    {"parsed", true},
                    {"calls", Json::array()}}
                   .dump()
            << "\n";
      }
    }
    if (hangs) {
      result.termination = Termination::timed_out;
    }
    return result;
  }
  std::vector<std::vector<std::string>> runs;
};

} // namespace

TEST(CallSiteParserTest, AFileThatStopsTheParserGetsItsOwnErrorAndNoOtherFileLosesItsAnswer) {
  // Shares of two: a, innocent, c, e | hang, b, d, f.
  std::vector<std::string> names = {"a.py", "hang.py", "innocent.py", "b.py",
                                    "c.py", "d.py",    "e.py",        "f.py"};
  std::vector<InputFile> inputs;
  for (const auto& name : names) {
    inputs.push_back({"/src/" + name, name, "/src", name, "", ""});
  }
  std::vector<const InputFile*> files;
  for (const auto& input : inputs) {
    files.push_back(&input);
  }
  Environment env;
  env.spec.name = "fake";
  env.sandbox = Sandbox::host(resources().shipped.sandbox_init);
  env.shipped = resources().shipped;
  env.python = "python3";
  FakeParser parser;
  std::vector<Json> answers = parse_call_sites(env, files, 2, parser);
  ASSERT_EQ(answers.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "hang.py") {
      EXPECT_EQ(answers[i]["status"], "error");
      EXPECT_NE(answers[i]["error"].get<std::string>().find("did not finish"), std::string::npos);
    } else {
      EXPECT_EQ(answers[i]["status"], "ok") << names[i] << ": " << answers[i].dump();
    }
  }
  // The first run stopped at hang.py and, cut short, at innocent.py; the files after them ran
  // again, then each of those two alone: innocent.py then finished.
  std::set<std::vector<std::string>> alone;
  for (const auto& run : parser.runs) {
    if (run.size() == 1) {
      alone.insert(run);
    }
  }
  EXPECT_EQ(alone, (std::set<std::vector<std::string>>{{"hang.py"}, {"innocent.py"}}));
  EXPECT_EQ(parser.runs.size(), 4u);
}
