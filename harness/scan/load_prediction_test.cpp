// The prediction against each real env's measured rules, on hand-written pickles whose
// refusals are known: one opcode, one type check, one global at a time.
#include "scan/load_prediction.h"
#include "testing/test_envs.h"

#include <fstream>
#include <gtest/gtest.h>
#include <zip.h>

using namespace loadmatrix;
using namespace std::string_literals;

namespace {

// A torch zip whose data.pkl is `pickle`, scanned.
FileScan scan_pickle(const test_support::TempDir& dir, const std::string& pickle) {
  auto path = dir.path() / "checkpoint.pt";
  std::filesystem::remove(path);
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  zip_source_t* source = zip_source_buffer(archive, pickle.data(), pickle.size(), 0);
  zip_file_add(archive, "archive/data.pkl", source, ZIP_FL_OVERWRITE);
  zip_close(archive);
  InputFile input{path, path.string(), dir.path(), "checkpoint.pt", {}, {}};
  FileScan scan = scan_file(input);
  EXPECT_EQ(scan.status, FileStatus::checkpoint) << scan.error;
  return scan;
}

LoadPrediction predict(const std::string& env, const FileScan& scan,
                       ScanMode mode = ScanMode::weights_only) {
  return predict_load(scan, test_support::open_test_env(env).fingerprint(), mode);
}

using Names = std::vector<std::string>;

// {'lr': 0.1}: a float, which 1.13's weights-only unpickler cannot read at all.
const std::string kFloat = "\x80\x02}X\x02\x00\x00\x00lrG?\xb9\x99\x99\x99\x99\x99\x9as."s;
// collections.defaultdict(list, {'a': 1})
const std::string kDefaultdict = "\x80\x02\x63\x63ollections\ndefaultdict\nc__builtin__\nlist\n"
                                 "\x85R(X\x01\x00\x00\x00\x61K\x01u."s;
// numpy.dtype('f4', False, True) with its state: numpy 2 builds a numpy.dtypes.Float32DType.
const std::string kDtype = "\x80\x02\x63numpy\ndtype\nX\x02\x00\x00\x00\x66\x34\x89\x88\x87R"
                           "(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb."s;

} // namespace

TEST(LoadPredictionEnvTest, AnOpcodeAVersionLacksBlocksWithoutAFix) {
  test_support::TempDir dir;
  FileScan scan = scan_pickle(dir, kFloat);
  LoadPrediction old = predict("bookworm", scan);
  EXPECT_EQ(old.outcome, Outcome::blocked);
  EXPECT_EQ(old.reason, BlockReason::unsupported_opcode);
  EXPECT_FALSE(old.fixable);
  EXPECT_NE(old.no_fix.find("BINFLOAT"), std::string::npos);
  EXPECT_EQ(predict("trixie", scan).outcome, Outcome::pass);
  // Protocol 4 frames: no weights-only unpickler of these versions reads them.
  FileScan framed = scan_pickle(dir, "\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00}\x94."s);
  LoadPrediction newest = predict("sid", framed);
  EXPECT_EQ(newest.reason, BlockReason::unsupported_opcode);
  EXPECT_NE(newest.detail.find("FRAME"), std::string::npos);
}

TEST(LoadPredictionEnvTest, EachVersionsTypeChecksDecideWhetherAnAllowlistFixesIt) {
  test_support::TempDir dir;
  FileScan scan = scan_pickle(dir, kDefaultdict);
  LoadPrediction flip = predict("trixie", scan);
  EXPECT_EQ(flip.outcome, Outcome::blocked);
  EXPECT_EQ(flip.blocked_globals, (Names{"collections.defaultdict", "builtins.list"}));
  EXPECT_TRUE(flip.fixable);
  EXPECT_EQ(flip.fix_allowlist, flip.blocked_globals);
  // 2.14 lists the same globals but will not SETITEMS into a defaultdict, allowlisted or not.
  LoadPrediction newest = predict("sid", scan);
  EXPECT_EQ(newest.blocked_globals, flip.blocked_globals);
  EXPECT_FALSE(newest.fixable);
  EXPECT_NE(newest.no_fix.find("SETITEMS into collections.defaultdict"), std::string::npos);
  // 1.13 compares the Python 2 spelling __builtin__.list, which nothing can allowlist.
  LoadPrediction old = predict("bookworm", scan);
  EXPECT_FALSE(old.fixable);
  EXPECT_EQ(old.blocked_globals, (Names{"collections.defaultdict", "builtins.list"}));
}

TEST(LoadPredictionEnvTest, Numpy2sDtypeClassesAreNamedInTheFix) {
  test_support::TempDir dir;
  FileScan scan = scan_pickle(dir, kDtype);
  LoadPrediction flip = predict("trixie", scan);
  EXPECT_EQ(flip.blocked_globals, (Names{"numpy.dtype", "numpy.dtypes.Float32DType"}));
  EXPECT_TRUE(flip.fixable);
  // numpy 1 on 1.13: no numpy.dtypes, and 1.13 builds no allowlisted class anyway.
  LoadPrediction old = predict("bookworm", scan);
  EXPECT_EQ(old.blocked_globals, (Names{"numpy.dtype"}));
  EXPECT_FALSE(old.fixable);
}

TEST(LoadPredictionEnvTest, DangerousAndBlocklistedGlobalsAreNeverAFix) {
  test_support::TempDir dir;
  FileScan scan = scan_pickle(dir, "\x80\x02\x63posix\nsystem\nX\x02\x00\x00\x00idK\x85R."s);
  EXPECT_EQ(scan.dangerous, (Names{"posix.system"}));
  for (const char* env : {"trixie", "sid"}) {
    LoadPrediction p = predict(env, scan);
    EXPECT_EQ(p.reason, BlockReason::module_blocklisted) << env;
    EXPECT_FALSE(p.fixable);
    EXPECT_TRUE(p.fix_allowlist.empty());
  }
  FileScan eval = scan_pickle(dir, "\x80\x02\x63__builtin__\neval\nX\x01\x00\x00\x00\x31\x85R."s);
  LoadPrediction p = predict("sid", eval);
  EXPECT_EQ(p.blocked_globals, (Names{"builtins.eval"}));
  EXPECT_FALSE(p.fixable);
  EXPECT_NE(p.no_fix.find("never allowlist"), std::string::npos);
}

TEST(LoadPredictionEnvTest, ABareLoadOnOneThirteenIsTheFullUnpickler) {
  test_support::TempDir dir;
  FileScan scan = scan_pickle(dir, kDefaultdict);
  LoadPrediction bare = predict("bookworm", scan, ScanMode::version_default);
  EXPECT_EQ(bare.outcome, Outcome::pass);
  EXPECT_TRUE(bare.runs_code);
  // The bare load on 2.6 is the weights-only one.
  EXPECT_EQ(predict("trixie", scan, ScanMode::version_default).outcome, Outcome::blocked);
  // numpy 2's module names do not exist under numpy 1.
  FileScan numpy2 = scan_pickle(dir, "\x80\x02\x63numpy._core.multiarray\n_reconstruct\n)R."s);
  EXPECT_EQ(predict("bookworm", numpy2, ScanMode::version_default).outcome, Outcome::error);
}

// What the env said it lacks (probes/global_resolution.h) decides: the full unpickler stops
// there with that error, and no allowlist can name what does not exist.
TEST(LoadPredictionEnvTest, AGlobalTheEnvLacksIsAnErrorAndNeverAnAllowlist) {
  test_support::TempDir dir;
  // {'x': torch.uint16}
  FileScan scan = scan_pickle(dir, "\x80\x02}X\x01\x00\x00\x00x\x63torch\nuint16\ns."s);
  ASSERT_EQ(scan.globals.size(), 1u);
  Environment bookworm = test_support::open_test_env("bookworm");
  EnvLoadRules rules(bookworm.fingerprint());
  ResolvedGlobals resolved;
  GlobalLookup lookup = global_lookup(scan, scan.globals[0]);
  EXPECT_EQ(lookup.key(), "zip|2|torch|uint16");
  resolved.by_key[lookup.key()] = {false, "AttributeError: Can't get attribute 'uint16'", ""};
  rules.resolved = &resolved;

  LoadPrediction full = predict_load(scan, rules, ScanMode::version_default);
  EXPECT_EQ(full.outcome, Outcome::error);
  EXPECT_EQ(full.missing_global, "torch.uint16");
  EXPECT_NE(full.detail.find("Can't get attribute 'uint16'"), std::string::npos) << full.detail;

  LoadPrediction weights_only = predict_load(scan, rules, ScanMode::weights_only);
  EXPECT_EQ(weights_only.outcome, Outcome::blocked);
  EXPECT_FALSE(weights_only.fixable);
  EXPECT_NE(weights_only.no_fix.find("does not exist in this env"), std::string::npos)
      << weights_only.no_fix;

  // Unasked (no answer for it), the bytes alone say it loads.
  ResolvedGlobals none;
  rules.resolved = &none;
  EXPECT_EQ(predict_load(scan, rules, ScanMode::version_default).outcome, Outcome::pass);
}

// What the env's weights-only unpickler said of a global, measured after a plain `import
// torch`: importing registers some classes as safe (2.6+'s torch.nested), and some refusals
// are in torch's own words and name no global (a jagged nested tensor's _DimRange).
TEST(LoadPredictionEnvTest, AMeasuredWeightsOnlyVerdictOverridesTheDefaultAllowlist) {
  test_support::TempDir dir;
  // {'x': argparse.Namespace}: not in any default allowlist.
  FileScan scan = scan_pickle(dir, "\x80\x02}X\x01\x00\x00\x00x\x63\x61rgparse\nNamespace\ns."s);
  ASSERT_EQ(scan.globals.size(), 1u);
  Environment sid = test_support::open_test_env("sid");
  EnvLoadRules rules(sid.fingerprint());
  EXPECT_EQ(predict_load(scan, rules, ScanMode::weights_only).outcome, Outcome::blocked);

  ResolvedGlobals resolved;
  std::string key = global_lookup(scan, scan.globals[0]).key();
  resolved.by_key[key] = {true, "", "allowed"};
  rules.resolved = &resolved;
  LoadPrediction allowed = predict_load(scan, rules, ScanMode::weights_only);
  EXPECT_EQ(allowed.outcome, Outcome::pass) << key << " " << allowed.detail;

  resolved.by_key[key] = {true, "",
                          "UnpicklingError: Weights only load failed. ``torch.nested`` and "
                          "``torch._dynamo`` must be imported to load nested jagged tensors "
                          "(NJTs)\n In PyTorch 2.6, we changed ..."};
  LoadPrediction own = predict_load(scan, rules, ScanMode::weights_only);
  EXPECT_EQ(own.outcome, Outcome::blocked);
  EXPECT_EQ(own.reason, BlockReason::other);
  EXPECT_TRUE(own.blocked_globals.empty()); // torch names none
  EXPECT_FALSE(own.fixable);
  EXPECT_NE(own.detail.find("must be imported to load nested jagged tensors (NJTs)"),
            std::string::npos)
      << own.detail;
  EXPECT_EQ(own.detail.find("In PyTorch 2.6"), std::string::npos) << own.detail;

  // The usual refusal changes nothing: the default allowlist's prediction stands.
  resolved.by_key[key] = {true, "",
                          "UnpicklingError: Weights only load failed. ... WeightsUnpickler "
                          "error: Unsupported global: GLOBAL argparse.Namespace was not an "
                          "allowed global by default."};
  LoadPrediction usual = predict_load(scan, rules, ScanMode::weights_only);
  EXPECT_EQ(usual.outcome, Outcome::blocked);
  EXPECT_EQ(usual.blocked_globals, Names{"argparse.Namespace"});
}
