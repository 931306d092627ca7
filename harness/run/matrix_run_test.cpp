// The run job against the three real envs, on a slice of the corpus chosen to cover the
// behaviours the issue names. One run is shared by the suite: it is the suite's cost.
#include "analysis/results_model.h"
#include "cli/resources.h"
#include "envs/provisioner.h"
#include "reports/report_writer.h"
#include "run/matrix_run.h"
#include "testing/test_envs.h"
#include "util/output_file.h"

#include <gtest/gtest.h>
#include <set>

using namespace loadmatrix;

namespace {

const std::vector<std::string> kCases = {"argparse_namespace",
                                         "numpy_rng_state",
                                         "state_dict",
                                         "plain_tensors",
                                         "torchscript_archive",
                                         "legacy_format",
                                         "blocklisted_module_global",
                                         "opacus_clone_module"};

class MatrixRunTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = new test_support::TempDir();
    SystemProcessRunner runner;
    EnvCache cache = test_support::test_env_cache();
    plan_ = new RunPlan();
    for (const auto& name : test_support::default_env_names()) {
      Environment env = test_support::open_test_env(name);
      plan_->cpp_probes[name] = ensure_cpp_probe(env, cache, runner, [](auto&) {}).value_or_throw();
      plan_->envs.push_back(env);
      plan_->producers.push_back(name);
      plan_->consumers.push_back(name);
    }
    plan_->cases = discover_cases({resources().cases_dir}, kCases);
    RunOptions options;
    options.out_dir = dir_->path() / "out";
    options.fixtures_dir = resources().cases_dir / "fixtures";
    auto store = ResultStore::open(options.out_dir, RunStart::kFresh,
                                   results_header(*plan_, {}, options.out_dir / "checkpoints"))
                     .value_or_throw();
    report_ = new RunReport(run_matrix(*plan_, options, *store, runner, [](auto&) {}));
    ASSERT_TRUE(store->write_results());
    records_ = new std::vector<Record>(store->records());
  }
  static void TearDownTestSuite() {
    delete records_;
    delete report_;
    delete plan_;
    delete dir_;
  }

  static const Record& cell(const std::string& case_name, const std::string& producer,
                            const std::string& consumer, const std::string& mode) {
    for (const auto& record : *records_) {
      if (record.case_name == case_name && record.producer == producer &&
          record.consumer == consumer && loader_mode_id(record.mode) == mode) {
        return record;
      }
    }
    throw FatalError("no record for " + case_name + " " + producer + " " + consumer + " " + mode);
  }

  static test_support::TempDir* dir_;
  static RunPlan* plan_;
  static RunReport* report_;
  static std::vector<Record>* records_;
};

test_support::TempDir* MatrixRunTest::dir_ = nullptr;
RunPlan* MatrixRunTest::plan_ = nullptr;
RunReport* MatrixRunTest::report_ = nullptr;
std::vector<Record>* MatrixRunTest::records_ = nullptr;

bool has(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

} // namespace

TEST_F(MatrixRunTest, EveryCellEndsWithExactlyOneRecord) {
  size_t recipes = kCases.size() - 1; // opacus_clone_module is a scenario
  EXPECT_EQ(records_->size(), recipes * 4 * 4 * loader_modes().size() + 1 * 4);
  EXPECT_EQ(report_->cells, records_->size());
}

TEST_F(MatrixRunTest, ArgparseNamespaceBreaksAtTheFlipAndTheAllowlistFixesIt) {
  EXPECT_EQ(cell("argparse_namespace", "bookworm", "bookworm", "default").outcome, Outcome::pass);
  for (const char* consumer : {"trixie", "sid"}) {
    const Record& loaded = cell("argparse_namespace", "bookworm", consumer, "default");
    EXPECT_EQ(loaded.outcome, Outcome::blocked) << consumer;
    EXPECT_EQ(loaded.blocked_globals, std::vector<std::string>{"argparse.Namespace"});
    EXPECT_EQ(loaded.reason, BlockReason::global_not_allowed);
    const Record& fixed = cell("argparse_namespace", "bookworm", consumer, "allowlist");
    EXPECT_EQ(fixed.outcome, Outcome::pass) << fixed.message << fixed.detail;
    EXPECT_EQ(fixed.allowlist, std::vector<std::string>{"argparse.Namespace"});
  }
  // 1.13 has no add_safe_globals: the allowlist mode does not exist there.
  EXPECT_EQ(cell("argparse_namespace", "sid", "bookworm", "allowlist").outcome,
            Outcome::unsupported);
}

TEST_F(MatrixRunTest, EveryBlockedGlobalIsListedNotOnlyTheFirst) {
  const Record& rng = cell("numpy_rng_state", "trixie", "sid", "weights_only");
  EXPECT_EQ(rng.outcome, Outcome::blocked);
  for (const char* global :
       {"numpy._core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype"}) {
    EXPECT_TRUE(has(rng.blocked_globals, global)) << global;
  }
  const Record& fixed = cell("numpy_rng_state", "trixie", "sid", "allowlist");
  EXPECT_EQ(fixed.outcome, Outcome::pass);
  EXPECT_EQ(fixed.allowlist, rng.blocked_globals);
}

TEST_F(MatrixRunTest, Numpy2PicklesFailOnBookwormEvenUnsafe) {
  for (const char* producer : {"trixie", "sid"}) {
    const Record& unsafe = cell("numpy_rng_state", producer, "bookworm", "unsafe");
    EXPECT_EQ(unsafe.outcome, Outcome::error);
    EXPECT_NE(unsafe.message.find("numpy._core"), std::string::npos) << unsafe.message;
  }
  EXPECT_EQ(cell("numpy_rng_state", "bookworm", "sid", "unsafe").outcome, Outcome::pass);
}

TEST_F(MatrixRunTest, CppPickleFailsWhereItReallyDoes) {
  for (const char* env : {"bookworm", "trixie", "sid"}) {
    const Record& state = cell("state_dict", env, env, "cpp_pickle");
    EXPECT_EQ(state.outcome, Outcome::error) << env;
    EXPECT_NE(state.message.find("GenericDict"), std::string::npos) << state.message;
  }
  EXPECT_EQ(cell("plain_tensors", "trixie", "trixie", "cpp_pickle").outcome, Outcome::pass);
  EXPECT_EQ(cell("plain_tensors", "sid", "sid", "cpp_pickle").outcome, Outcome::pass);
  EXPECT_EQ(cell("legacy_format", "sid", "sid", "cpp_pickle").outcome, Outcome::error);
}

TEST_F(MatrixRunTest, ModesAVersionLacksAreUnsupportedAndInapplicableOnesSkipped) {
  EXPECT_EQ(cell("plain_tensors", "sid", "bookworm", "mmap").outcome, Outcome::unsupported);
  EXPECT_EQ(cell("plain_tensors", "sid", "sid", "mmap").outcome, Outcome::pass);
  const Record& jit = cell("plain_tensors", "sid", "sid", "cpp_jit");
  EXPECT_EQ(jit.outcome, Outcome::skipped);
  EXPECT_NE(jit.detail.find("TorchScript"), std::string::npos);
  EXPECT_EQ(cell("torchscript_archive", "sid", "sid", "cpp_jit").outcome, Outcome::pass);
  EXPECT_EQ(cell("torchscript_archive", "trixie", "trixie", "cpp_jit").outcome, Outcome::pass);
}

TEST_F(MatrixRunTest, ABlocklistedGlobalIsNeverAllowlisted) {
  const Record& fix = cell("blocklisted_module_global", "sid", "sid", "allowlist");
  EXPECT_EQ(fix.outcome, Outcome::blocked);
  EXPECT_EQ(fix.reason, BlockReason::module_blocklisted);
  EXPECT_TRUE(fix.allowlist.empty());
  EXPECT_TRUE(has(fix.blocked_globals, "posix.getcwd"));
  EXPECT_NE(fix.detail.find("no safe allowlist"), std::string::npos) << fix.detail;
}

TEST_F(MatrixRunTest, ScenariosRunTheirOwnLoadPathInEachEnv) {
  EXPECT_EQ(cell("opacus_clone_module", "bookworm", "bookworm", "scenario").outcome, Outcome::pass);
  for (const char* env : {"trixie", "sid"}) {
    const Record& clone = cell("opacus_clone_module", env, env, "scenario");
    EXPECT_EQ(clone.outcome, Outcome::blocked) << env;
    EXPECT_TRUE(has(clone.blocked_globals, "torch.nn.modules.container.Sequential"));
  }
}

// Each Python-mode record re-checked by a plain torch.load in the consumer env: no worker, no
// fork, no classifier, just the call a user would make.
TEST_F(MatrixRunTest, EveryRecordAgreesWithADirectTorchLoad) {
  SystemProcessRunner runner;
  const char* script = R"(
import inspect, os, sys, torch
for line in sys.stdin:
    path, mode = line.split()
    kwargs = {"map_location": "cpu"}
    if mode != "default":
        kwargs["weights_only"] = mode == "weights_only"
        # torch 1.7 has no weights_only: it passes unknown keywords on to the unpickler
        # (TypeError for a pickle, ignored for a TorchScript archive); the mode is unsupported.
        if "weights_only" not in inspect.signature(torch.load).parameters:
            print("CHECK", path, mode, "unsupported", flush=True)
            continue
    pid = os.fork()  # torch 1.7 aborts on a newer TorchScript archive: the check goes on
    if pid == 0:
        try:
            torch.load(path, **kwargs)
            verdict = "returned"
        except Exception as error:
            text = str(error)
            refusal = "Weights only load failed" in text or "WeightsUnpickler" in text
            verdict = "refused" if refusal else "raised"
        print("CHECK", path, mode, verdict, flush=True)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        print("CHECK", path, mode, "crashed", flush=True)
)";
  size_t checked = 0;
  for (const auto& env : plan_->envs) {
    SandboxMount checkpoints =
        env.sandbox.place(dir_->path() / "out" / "checkpoints", "ckpt", false);
    SandboxMount fixtures =
        env.sandbox.place(resources().cases_dir / "fixtures", "fixtures", false);
    std::string requests;
    std::map<std::string, const Record*> expected;
    for (const auto& record : *records_) {
      if (record.consumer != env.spec.name ||
          (record.mode != LoaderMode::default_load && record.mode != LoaderMode::weights_only &&
           record.mode != LoaderMode::unsafe) ||
          record.outcome == Outcome::skipped) {
        continue;
      }
      auto path = (checkpoints.inside / record.producer / (record.case_name + ".pt")).string();
      std::string mode = loader_mode_id(record.mode);
      requests += path + " " + mode + "\n";
      expected[path + " " + mode] = &record;
    }
    auto input = dir_->path() / (env.spec.name + ".requests");
    ASSERT_TRUE(write_output_file(input, requests));
    SandboxMount input_dir = env.sandbox.place(dir_->path(), "requests", false);
    SandboxCommand command;
    command.argv = {"sh",       "-c",   "exec \"$0\" -c \"$1\" < \"$2\"",
                    env.python, script, (input_dir.inside / input.filename()).string()};
    command.mounts = {checkpoints, fixtures, input_dir};
    command.env = {"PYTHONPATH=" + fixtures.inside.string()};
    command.timeout = std::chrono::minutes(5);
    ProcessResult result = env.sandbox.run(runner, command);
    ASSERT_TRUE(result.succeeded()) << result.describe() << result.stderr_text;
    std::istringstream lines(result.stdout_text);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream fields(line);
      std::string tag, path, mode, verdict;
      fields >> tag >> path >> mode >> verdict;
      if (tag != "CHECK") {
        continue;
      }
      const Record& record = *expected.at(path + " " + mode);
      Outcome outcome = record.outcome;
      std::string cell_name = record.key();
      if (verdict == "returned") {
        EXPECT_TRUE(outcome == Outcome::pass || outcome == Outcome::mismatch) << cell_name;
      } else if (verdict == "refused") {
        EXPECT_EQ(outcome, Outcome::blocked) << cell_name;
      } else if (verdict == "crashed") {
        EXPECT_EQ(outcome, Outcome::crash) << cell_name;
      } else if (verdict == "unsupported") {
        EXPECT_EQ(outcome, Outcome::unsupported) << cell_name;
      } else {
        EXPECT_TRUE(outcome == Outcome::error || outcome == Outcome::unsupported) << cell_name;
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, (kCases.size() - 1) * 4 * 4 * 3 - 10);
}

// The regression analysis of a real run: derived from what torch did, not from a table.
TEST_F(MatrixRunTest, TheFlipSectionListsWhatReallyRegressedWithVerifiedFixes) {
  ResultsModel model = build_results_model(
      results_header(*plan_, {}, dir_->path() / "out" / "checkpoints"), *records_, {});
  // 1.7 -> 1.13, 1.13 -> 2.6 (the flip), 2.6 -> 2.14.
  ASSERT_EQ(model.changes.size(), 3u);
  EXPECT_EQ(model.changes[0].from.name, "bullseye");
  const VersionChange& flip = model.changes[1];
  EXPECT_EQ(flip.from.name, "bookworm");
  EXPECT_EQ(flip.to.name, "trixie");
  const CauseGroup* namespace_group = nullptr;
  for (const auto& group : flip.causes) {
    if (group.cause == "argparse.Namespace") {
      namespace_group = &group;
    }
  }
  ASSERT_NE(namespace_group, nullptr) << "argparse.Namespace did not regress at 2.6";
  EXPECT_EQ(namespace_group->checkpoints, 4u); // saved by each of the four envs
  EXPECT_EQ(namespace_group->fix.kind, SuggestedFix::Kind::allowlist);
  EXPECT_TRUE(namespace_group->fix.verified);
  EXPECT_EQ(namespace_group->fix.globals, std::vector<std::string>{"argparse.Namespace"});
  EXPECT_NE(namespace_group->message.find("argparse.Namespace"), std::string::npos);
  // Where it sits in what the recipe saved ({"model": ..., "args": Namespace(...)}): the
  // saving-side fix, read from the files by the static analyzer.
  EXPECT_EQ(namespace_group->object_paths.at("argparse.Namespace"),
            std::set<std::string>{"[\"args\"]"});
  // One snippet for every version, loaded with on each env: 1.7 and 1.13 through the full
  // unpickler (no allowlist API), 2.6 and 2.14 weights-only with the allowlist.
  EXPECT_TRUE(namespace_group->portable.everywhere())
      << namespace_group->portable.failures.size() << namespace_group->portable.why_not;
  EXPECT_EQ(namespace_group->portable.verified_envs,
            (std::vector<std::string>{"bullseye", "bookworm", "trixie", "sid"}));
  EXPECT_NE(namespace_group->portable.snippet.find("\"argparse.Namespace\""), std::string::npos);
  // A blocklisted module's global has no snippet at all, and says why.
  for (const auto& group : flip.causes) {
    // numpy 1's spelling from 1.x files loads on numpy 2 through (object, name) pairs.
    if (group.cause.starts_with("numpy.core.multiarray._reconstruct")) {
      EXPECT_TRUE(group.portable.everywhere()) << group.cause;
    }
    if (group.cause == "posix.getcwd") {
      EXPECT_TRUE(group.portable.snippet.empty());
      EXPECT_NE(group.portable.why_not.find("can run code"), std::string::npos);
    }
  }
  // Every blocked group of every version change: one snippet verified on every env, or why none
  // can exist, or, env by env, where it does not load and the reason torch gave.
  for (const auto& change : model.changes) {
    for (const auto& group : change.causes) {
      if (group.reason == "crash" || group.reason == "error" || group.reason == "mismatch" ||
          group.reason == "timeout") {
        continue; // not blocked: no allowlist is a fix
      }
      const PortableFix& portable = group.portable;
      EXPECT_TRUE(portable.unchecked_envs.empty()) << group.cause;
      if (portable.everywhere() || !portable.why_not.empty()) {
        continue;
      }
      ASSERT_FALSE(portable.failures.empty()) << group.cause;
      for (const auto& [env, raised] : portable.failures) {
        std::string said = raised.substr(0, raised.find_last_not_of(" \n") + 1);
        EXPECT_FALSE(said.empty() || said.ends_with(':'))
            << group.cause << " on " << env << ": a failure without its reason: " << raised;
      }
    }
  }
  // Every regression is a cell that passed on 1.13 and fails on 2.6.
  for (const auto& cell : flip.regressions) {
    EXPECT_EQ(cell.before->outcome, Outcome::pass);
    EXPECT_TRUE(outcome_info(cell.after->outcome).is_failure);
  }
  ASSERT_TRUE(write_reports(model, dir_->path() / "reports", resources().report_assets));
  SystemProcessRunner runner;
  ProcessSpec lint;
  lint.argv = {"xmllint", "--noout", "--schema",
               (resources().home / "reports" / "junit.xsd").string(),
               (dir_->path() / "reports" / "junit.xml").string()};
  ProcessResult validated = runner.run(lint);
  EXPECT_TRUE(validated.succeeded()) << validated.stderr_text;
}
