#include "cli/resources.h"
#include "envs/env_cache.h"
#include "envs/pip_env.h"
#include "util/json_file.h"
#include "util/output_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace loadmatrix;

namespace {

class PipEnvTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("loadmatrix-pip-env-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A venv's site-packages holding `dist_infos` (NAME-VERSION.dist-info directories).
  void make_venv(const std::filesystem::path& venv, const std::vector<std::string>& dist_infos) {
    auto site = venv / "lib" / "python3.11" / "site-packages";
    std::filesystem::create_directories(site / "torch");
    for (const auto& entry : dist_infos) {
      std::filesystem::create_directories(site / entry);
    }
  }

  EnvSpec pip_spec() const {
    EnvSpec spec;
    spec.name = "torch-2.4";
    spec.kind = EnvKind::pip;
    spec.python = kDefaultPipPython;
    spec.requirements = {"torch==2.4.1", "numpy<2"};
    return spec;
  }

  void write_manifest(const EnvCache& cache, const EnvSpec& spec,
                      std::map<std::string, std::string> packages) {
    Manifest manifest;
    manifest.name = spec.name;
    manifest.kind = EnvKind::pip;
    manifest.spec = spec.identity();
    manifest.created = utc_now_iso8601();
    manifest.packages = std::move(packages);
    manifest.uv = "uv 0.13.9";
    manifest.fingerprint.raw = {
        {"torch", "2.4.1"}, {"python", "3.11.2"}, {"fingerprint_version", kFingerprintVersion}};
    manifest.fingerprint.version = kFingerprintVersion;
    ASSERT_TRUE(write_json_file(cache.manifest_path(spec.name), manifest.to_json()));
  }

  std::filesystem::path dir_;
};

TEST_F(PipEnvTest, NormalizedDistributionNameFollowsPep503) {
  EXPECT_EQ(normalized_distribution_name("Lightning_Utilities"), "lightning-utilities");
  EXPECT_EQ(normalized_distribution_name("nvidia_cublas_cu12"), "nvidia-cublas-cu12");
  EXPECT_EQ(normalized_distribution_name("zope.interface"), "zope-interface");
  EXPECT_EQ(normalized_distribution_name("a--_.b"), "a-b");
}

TEST_F(PipEnvTest, TheUvPinIsTheBootstrapsPin) {
  auto script = read_text_file(resources().home / "scripts" / "uv-path").value_or_throw();
  EXPECT_NE(script.find(std::string("uv_version=") + kUvVersion + "\n"), std::string::npos)
      << "scripts/uv-path and kUvVersion (envs/pip_env.h) name different uv releases";
  // The wheel depends on the same uv (its launcher hands it to the CLI as LOADMATRIX_UV).
  auto project = read_text_file(resources().home / "pyproject.toml").value_or_throw();
  EXPECT_NE(project.find(std::string("\"uv==") + kUvVersion + "\""), std::string::npos)
      << "pyproject.toml and kUvVersion (envs/pip_env.h) name different uv releases";
}

TEST_F(PipEnvTest, AHostileVenvIsReadWithoutFollowingItsLinks) {
  auto site = dir_ / "venv" / "lib" / "python3.11" / "site-packages";
  make_venv(dir_ / "venv", {"torch-2.4.1.dist-info", "evil-1.0.dist-info", "fifo-1.0.dist-info"});
  // A RECORD that is a link to a file of the host's, a dist-info that is a link elsewhere, a
  // RECORD that is a FIFO: none is followed or opened.
  std::filesystem::create_symlink("/etc/passwd", site / "evil-1.0.dist-info" / "RECORD");
  std::filesystem::create_directories(dir_ / "elsewhere" / "linked-9.dist-info");
  std::filesystem::create_directory_symlink(dir_ / "elsewhere" / "linked-9.dist-info",
                                            site / "linked-9.dist-info");
  ASSERT_EQ(::mkfifo((site / "fifo-1.0.dist-info" / "RECORD").c_str(), 0600), 0);
  ASSERT_TRUE(
      write_output_file(site / "torch-2.4.1.dist-info" / "RECORD",
                        "torch/__init__.py,sha256=x,10\ntorch/serialization.py,sha256=y,20\n"
                        "\"odd,name.py\",sha256=z,1\n"));
  auto owners = distribution_files(site);
  ASSERT_EQ(owners.size(), 2u);
  EXPECT_EQ(owners.at("torch/serialization.py"),
            (std::pair<std::string, std::string>{"torch", "2.4.1"}));
  EXPECT_FALSE(installed_distributions(dir_ / "venv").contains("linked"));

  // Two RECORDs claiming one file: no owner is guessed.
  std::filesystem::create_directories(site / "other-1.0.dist-info");
  ASSERT_TRUE(write_output_file(site / "other-1.0.dist-info" / "RECORD", "torch/__init__.py,,\n"));
  EXPECT_FALSE(distribution_files(site).contains("torch/__init__.py"));
  EXPECT_TRUE(distribution_files(site).contains("torch/serialization.py"));
}

TEST_F(PipEnvTest, InstalledDistributionsAreTheVenvsDistInfoDirectories) {
  make_venv(dir_ / "venv", {"torch-2.4.1.dist-info", "nvidia_cublas_cu12-12.1.3.1.dist-info",
                            "typing_extensions-4.16.0.dist-info", "not-a-dist", "-1.dist-info"});
  std::map<std::string, std::string> expected = {
      {"nvidia-cublas-cu12", "12.1.3.1"}, {"torch", "2.4.1"}, {"typing-extensions", "4.16.0"}};
  EXPECT_EQ(installed_distributions(dir_ / "venv"), expected);
  EXPECT_TRUE(installed_distributions(dir_ / "absent").empty());
}

TEST_F(PipEnvTest, AVenvWhosePackagesChangedIsStaleAndSaysWhat) {
  EnvCache cache(dir_);
  EnvSpec spec = pip_spec();
  make_venv(cache.venv(spec.name), {"torch-2.4.1.dist-info", "numpy-1.26.4.dist-info"});
  write_manifest(cache, spec, {{"torch", "2.4.1"}, {"numpy", "1.26.4"}});
  EXPECT_EQ(cache.inspect(spec).status, EnvStatus::ready);

  // Someone ran `pip install -U numpy lightning` in the venv.
  auto site = cache.venv(spec.name) / "lib" / "python3.11" / "site-packages";
  std::filesystem::rename(site / "numpy-1.26.4.dist-info", site / "numpy-2.1.0.dist-info");
  std::filesystem::create_directories(site / "lightning-2.6.0.dist-info");
  EnvState state = cache.inspect(spec);
  EXPECT_EQ(state.status, EnvStatus::stale);
  EXPECT_EQ(state.detail, "its packages changed since it was provisioned: +lightning 2.6.0, "
                          "numpy 1.26.4 -> 2.1.0");
  EXPECT_FALSE(state.remeasure_only);
}

TEST_F(PipEnvTest, AChangedRequirementMakesTheEnvStaleAndAMissingVenvBroken) {
  EnvCache cache(dir_);
  EnvSpec spec = pip_spec();
  make_venv(cache.venv(spec.name), {"torch-2.4.1.dist-info"});
  write_manifest(cache, spec, {{"torch", "2.4.1"}});
  spec.requirements = {"torch==2.5.1", "numpy<2"};
  EXPECT_EQ(cache.inspect(spec).status, EnvStatus::stale);

  spec = pip_spec();
  std::filesystem::remove_all(cache.venv(spec.name));
  EnvState state = cache.inspect(spec);
  EXPECT_EQ(state.status, EnvStatus::broken);
  EXPECT_EQ(state.detail, cache.venv(spec.name).string() + ": missing");
}

TEST_F(PipEnvTest, TheManifestKeepsTheResolvedSetAndUv) {
  EnvCache cache(dir_);
  EnvSpec spec = pip_spec();
  std::filesystem::create_directories(cache.env_dir(spec.name));
  write_manifest(cache, spec, {{"torch", "2.4.1"}, {"numpy", "1.26.4"}});
  auto manifest = Manifest::from_json(read_json_file(cache.manifest_path(spec.name)).value(), "m");
  ASSERT_TRUE(manifest) << manifest.error().message;
  EXPECT_EQ(manifest->kind, EnvKind::pip);
  EXPECT_EQ(manifest->uv, "uv 0.13.9");
  EXPECT_EQ(manifest->packages.at("numpy"), "1.26.4");
  EXPECT_EQ(manifest->spec.at("requirements"), Json({"torch==2.4.1", "numpy<2"}));
}

} // namespace
