// Issue 16 through the real CLI: output destinations are never replaced by what is written to
// them, and text from outside (names, messages, worker and probe output) never ends a job.
// Each input below once failed; every other file or cell must keep its normal result.
#include "testing/checkpoint_writer.h"
#include "testing/cli_runs.h"
#include "testing/test_envs.h"
#include "util/json_file.h"
#include "util/process.h"

#include <fstream>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <thread>

using namespace loadmatrix;
using namespace std::string_literals;
using test_support::records_by_key;
using test_support::write_bytes;
using test_support::write_torch_zip;

namespace {

mode_t node_type(const std::filesystem::path& path) {
  struct stat info {};
  EXPECT_EQ(::lstat(path.c_str(), &info), 0) << path;
  return info.st_mode & S_IFMT;
}

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A small checkpoint every env loads: {"lr": 0.1} in a torch zip.
const std::string kPlainPickle = "\x80\x02}X\x02\x00\x00\x00lrG?\xb9\x99\x99\x99\x99\x99\x9as."s;

size_t entries(const std::filesystem::path& dir) {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
}

} // namespace

TEST(OutputDestinationRootTest, ScanJsonOntoACharacterDeviceKeepsTheDevice) {
  test_support::TempDir dir;
  write_torch_zip(dir.path() / "big.pt", kPlainPickle);
  auto device = dir.path() / "dev" / "null";
  std::filesystem::create_directories(device.parent_path());
  ASSERT_EQ(::mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 3)), 0) << std::strerror(errno);
  ProcessResult result = test_support::run_loadmatrix(
      {"scan", (dir.path() / "big.pt").string(), "--static-only", "--json", device.string()});
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(node_type(device), static_cast<mode_t>(S_IFCHR));
  EXPECT_EQ(entries(device.parent_path()), 1u); // no temp file left beside it
}

TEST(OutputDestinationTest, ScanJsonIntoAFifoReachesItsReader) {
  test_support::TempDir dir;
  write_torch_zip(dir.path() / "a.pt", kPlainPickle);
  auto fifo = dir.path() / "scan.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  std::string received;
  std::thread reader([&] { received = read_all(fifo); });
  ProcessResult result = test_support::run_loadmatrix(
      {"scan", (dir.path() / "a.pt").string(), "--static-only", "--json", fifo.string()});
  reader.join();
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(node_type(fifo), static_cast<mode_t>(S_IFIFO));
  Json document = parse_json(received, "fifo").value_or_throw();
  EXPECT_EQ(document.at("schema"), "loadmatrix.scan/1");
  EXPECT_EQ(document.at("files").size(), 1u);
}

TEST(OutputDestinationTest, ScanJsonThroughASymlinkWritesItsTargetAndKeepsTheLink) {
  test_support::TempDir dir;
  write_torch_zip(dir.path() / "a.pt", kPlainPickle);
  std::filesystem::create_directories(dir.path() / "kept");
  std::ofstream(dir.path() / "kept" / "scan.json") << "stale";
  std::filesystem::create_symlink("kept/scan.json", dir.path() / "latest.json");
  ProcessResult result =
      test_support::run_loadmatrix({"scan", (dir.path() / "a.pt").string(), "--static-only",
                                    "--json", (dir.path() / "latest.json").string()});
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(node_type(dir.path() / "latest.json"), static_cast<mode_t>(S_IFLNK));
  Json document = read_json_file(dir.path() / "kept" / "scan.json").value_or_throw();
  EXPECT_EQ(document.at("files").size(), 1u);
}

TEST(OutputDestinationTest, ScanJsonDashIsStandardOutputWithTheTableOnStderr) {
  test_support::TempDir dir;
  write_torch_zip(dir.path() / "a.pt", kPlainPickle);
  for (const char* dash : {"-", "/dev/stdout"}) {
    ProcessResult result = test_support::run_loadmatrix(
        {"-q", "scan", (dir.path() / "a.pt").string(), "--static-only", "--json", dash});
    EXPECT_EQ(result.exit_code, 0) << dash << result.stderr_text;
    auto document = parse_json(result.stdout_text, "stdout");
    ASSERT_TRUE(document) << dash << ": " << result.stdout_text.substr(0, 300);
    EXPECT_EQ(document->at("files").size(), 1u);
    EXPECT_NE(result.stderr_text.find("VERDICT"), std::string::npos) << result.stderr_text;
  }
  EXPECT_EQ(node_type("/dev/stdout"), static_cast<mode_t>(S_IFLNK));
}

TEST(OutputDestinationTest, ADestinationThatCannotBeWrittenFailsBeforeAnyWork) {
  test_support::TempDir dir;
  write_torch_zip(dir.path() / "a.pt", kPlainPickle);
  std::ofstream(dir.path() / "a-file") << "mine";
  auto file = (dir.path() / "a-file").string();
  auto check = [&](std::vector<std::string> args, const std::string& message) {
    ProcessResult result = test_support::run_loadmatrix(args);
    EXPECT_EQ(result.exit_code, 2) << args[0] << " " << result.stderr_text;
    EXPECT_NE(result.stderr_text.find("loadmatrix: error: " + message), std::string::npos)
        << result.stderr_text;
    // Before any work: no static pass, no env, no run.
    EXPECT_EQ(result.stderr_text.find("static pass"), std::string::npos) << result.stderr_text;
    EXPECT_EQ(result.stderr_text.find("env "), std::string::npos) << result.stderr_text;
  };
  check({"scan", (dir.path() / "a.pt").string(), "--json", dir.path().string()},
        dir.path().string() + ": is a directory");
  check({"scan", (dir.path() / "a.pt").string(), "--json", (dir.path() / "no/x.json").string()},
        (dir.path() / "no/x.json").string() + ": " + (dir.path() / "no").string() +
            " is not an existing directory");
  check({"scan", (dir.path() / "a.pt").string(), "--out", file},
        file + ": exists and is not a directory");
  check({"run", "--out", file}, file + ": exists and is not a directory");
  check({"merge", file, "--out", file}, file + ": exists and is not a directory");
  EXPECT_EQ(read_all(file), "mine");
}

TEST(OutputDestinationTest, ScanningNothingExitsThree) {
  test_support::TempDir dir;
  std::filesystem::create_directories(dir.path() / "empty");
  ProcessResult result =
      test_support::run_loadmatrix({"scan", (dir.path() / "empty").string(), "--static-only"});
  EXPECT_EQ(result.exit_code, 3) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find("no files found under " + (dir.path() / "empty").string()),
            std::string::npos)
      << result.stderr_text;
}

namespace {

const char* const kPlainRecipe = "\"\"\"Weights only.\"\"\"\nimport torch\n\n"
                                 "def build():\n    return {'w': torch.ones(2)}\n";

} // namespace

// The four inputs of issue 16 that ended a run or lost a cell's real result, with names that
// are hard to show (a newline, a leading dash, 250 bytes): each case gets its own cells.
TEST(UntrustedTextEnvTest, HostileRecipesEachGetTheirOwnCellsInARealRun) {
  test_support::TempDir dir;
  auto recipes = dir.path() / "hostile" / "recipes";
  std::filesystem::create_directories(recipes);
  std::string long_name(246, 'l');
  for (const std::string& name : {"plain"s, "bad\xffname"s, "new\nline"s, "-dash"s, long_name}) {
    write_bytes(recipes / (name + ".py"), kPlainRecipe);
  }
  write_bytes(recipes / "surrogate_error.py",
              "def build():\n    raise ValueError('bad byte \\udcff here')\n");
  write_bytes(recipes / "surrogate_key.py", "def build():\n    return {'k\\udcff': 1}\n");
  auto out = dir.path() / "out";
  ProcessResult result = test_support::run_loadmatrix(
      {"run", "--envs", "bookworm,trixie", "--cases", (dir.path() / "hostile").string(),
       "--no-builtin-cases", "--modes", "default,weights_only,cpp_pickle", "--out", out.string()});
  ASSERT_EQ(result.termination, Termination::exited) << result.describe();
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(result.stderr_text.find("internal error"), std::string::npos) << result.stderr_text;
  auto records = records_by_key(out / "results.json");
  EXPECT_EQ(records.size(), 7u * 2 * 2 * 3);

  std::vector<std::string> envs = {"bookworm", "trixie"};
  for (const std::string& shown : {"bad\\xffname"s, "new\\x0aline"s, "-dash"s, long_name}) {
    for (const auto& producer : envs) {
      for (const auto& consumer : envs) {
        for (const char* mode : {"default", "weights_only", "cpp_pickle"}) {
          std::string tail = "|" + producer + "|" + consumer + "|" + mode;
          ASSERT_TRUE(records.contains(shown + tail)) << shown << tail;
          // The same recipe as "plain": the same outcome in every cell.
          EXPECT_EQ(records.at(shown + tail).at("outcome"),
                    records.at("plain" + tail).at("outcome"))
              << shown << tail;
        }
      }
    }
  }
  EXPECT_EQ(records.at("plain|bookworm|trixie|default").at("outcome"), "pass");
  EXPECT_EQ(records.at("plain|trixie|trixie|cpp_pickle").at("outcome"), "pass");

  // The recipe's own error, surrogate and all, is what its cells say.
  const Json& unsaved = records.at("surrogate_error|trixie|bookworm|default");
  EXPECT_EQ(unsaved.at("outcome"), "skipped");
  EXPECT_NE(unsaved.at("detail").get<std::string>().find("ValueError bad byte \\xff here"),
            std::string::npos)
      << unsaved.dump();
  // libtorch hands the probe the key's raw bytes; the probe's line stays valid JSON.
  for (const auto& producer : envs) {
    for (const auto& consumer : envs) {
      for (const char* mode : {"default", "weights_only", "cpp_pickle"}) {
        const Json& cell = records.at("surrogate_key|" + producer + "|" + consumer + "|" + mode);
        EXPECT_NE(cell.at("outcome"), "crash") << cell.dump();
        EXPECT_NE(cell.at("outcome"), "skipped") << cell.dump();
      }
    }
  }
  EXPECT_EQ(records.at("surrogate_key|trixie|trixie|cpp_pickle").at("outcome"), "pass");
  EXPECT_EQ(records.at("surrogate_key|bookworm|trixie|weights_only").at("outcome"), "pass");
  // The reports were written too, with the names shown escaped.
  std::string summary = read_all(out / "report.html");
  EXPECT_NE(summary.find("bad\\xffname"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(out / "junit.xml"));
}

namespace {

// Files whose names or bytes are hostile, each a small valid checkpoint unless said otherwise.
std::vector<std::string> make_hostile_files(const std::filesystem::path& files) {
  std::filesystem::create_directories(files);
  std::vector<std::string> names = {"plain.pt", "bad\xffname.pt", "new\nline.pt", "-rf.pt",
                                    std::string(252, 'n') + ".pt"};
  for (const auto& name : names) {
    write_torch_zip(files / name, kPlainPickle);
  }
  // A protocol-4 global whose module is a lone surrogate (unpicklers read BINUNICODE with
  // surrogatepass).
  names.push_back("surrogate-global.pt");
  write_torch_zip(files / names.back(),
                  "\x80\x04\x8c\x06mod\xed\xb3\xbf\x94\x8c\x05Thing\x94\x93)\x81."s);
  // A persistent id whose type name is a lone surrogate: every torch's refusal quotes it raw
  // ("... but got 'x\udcff'"), a message that json.dumps cannot make valid JSON of.
  names.push_back("surrogate-message.pt");
  write_torch_zip(files / names.back(), "\x80\x02X\x04\x00\x00\x00x\xed\xb3\xbf\x85Q."s);
  // Member names that are not UTF-8.
  names.push_back("bad-member.pt");
  write_torch_zip(files / names.back(), kPlainPickle, "arch\xff");
  return names;
}

} // namespace

TEST(UntrustedTextEnvTest, AHostileSetScannedInEveryEnvGivesEveryFileAResult) {
  test_support::TempDir dir;
  auto files = dir.path() / "files";
  auto names = make_hostile_files(files);
  for (bool trust : {false, true}) {
    auto out = dir.path() / (trust ? "trusted" : "untrusted");
    std::vector<std::string> args = {"scan", files.string(), "--out", out.string()};
    if (trust) {
      args.push_back("--trust");
    }
    ProcessResult result = test_support::run_loadmatrix(args);
    ASSERT_EQ(result.termination, Termination::exited) << result.describe();
    EXPECT_EQ(result.exit_code, 1) << result.stderr_text; // findings, not a harness error
    EXPECT_EQ(result.stderr_text.find("internal error"), std::string::npos) << result.stderr_text;
    Json document = read_json_file(out / "scan.json").value_or_throw();
    std::string listed;
    for (const auto& file : document.at("files")) {
      listed += file.at("path").get<std::string>() + "\n";
    }
    ASSERT_EQ(document.at("files").size(), names.size()) << listed;
    std::set<std::string> shown;
    for (const auto& file : document.at("files")) {
      std::string path = file.at("path");
      shown.insert(path.substr(path.rfind('/') + 1));
      ASSERT_FALSE(file.at("results").empty()) << path;
      for (const auto& cell : file.at("results")) {
        // Every env really loaded every file (or says why not, for a bare load without --trust).
        EXPECT_FALSE(cell.at("observed").is_null()) << path << " " << cell.dump();
        if (cell.at("mode") == "weights_only") {
          EXPECT_NE(cell.at("observed"), "skipped") << path << " " << cell.dump();
        }
      }
    }
    EXPECT_TRUE(shown.contains("bad\\xffname.pt"));
    EXPECT_TRUE(shown.contains("new\\x0aline.pt"));
    EXPECT_TRUE(shown.contains("-rf.pt"));
    auto file_named = [&](const std::string& name) -> const Json& {
      for (const auto& file : document.at("files")) {
        if (file.at("path").get<std::string>().ends_with("/" + name)) {
          return file;
        }
      }
      throw FatalError("no " + name);
    };
    // The odd names load exactly as the same bytes under a plain name do (timings aside).
    auto verdicts = [&](const std::string& name) {
      Json cells = Json::array();
      for (const auto& cell : file_named(name).at("results")) {
        cells.push_back({cell.at("env"), cell.at("mode"), cell.at("predicted"), cell.at("observed"),
                         cell.at("blocked_globals")});
      }
      return cells;
    };
    for (const char* name : {"bad\\xffname.pt", "new\\x0aline.pt", "-rf.pt"}) {
      EXPECT_EQ(verdicts(name), verdicts("plain.pt")) << name;
    }
    EXPECT_EQ(verdicts(std::string(252, 'n') + ".pt"), verdicts("plain.pt"));
    // Torch's own message, surrogate and all, reaches the cell, escaped.
    size_t quoted = 0;
    for (const auto& cell : file_named("surrogate-message.pt").at("results")) {
      if (cell.at("observation").is_object() &&
          cell.at("observation").at("message").get<std::string>().find("x\\xff") !=
              std::string::npos) {
        ++quoted;
      }
    }
    EXPECT_GE(quoted, trust ? 4u : 3u) << dump_json(file_named("surrogate-message.pt"));
    EXPECT_TRUE(std::filesystem::exists(out / "report.html"));
  }
}
