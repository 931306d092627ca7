#include "cli/resources.h"
#include "envs/provisioner.h"
#include "testing/test_envs.h"

#include <fstream>
#include <gtest/gtest.h>

using namespace loadmatrix;
using namespace std::chrono_literals;

namespace {

void write_script(const std::filesystem::path& path, const std::string& body) {
  std::ofstream(path) << "#!/bin/sh\n" << body;
  std::filesystem::permissions(path, std::filesystem::perms(0755));
}

size_t count_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  size_t lines = 0;
  for (std::string line; std::getline(in, line);) {
    ++lines;
  }
  return lines;
}

bool has_partial_dirs(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().find(".partial-") != std::string::npos) {
      return true;
    }
  }
  return false;
}

EnvSpec copy_of_trixie() {
  EnvSpec spec;
  spec.name = "trixie-copy";
  spec.kind = EnvKind::debian;
  spec.suite = "trixie";
  spec.packages = default_debian_packages();
  return spec;
}

class ProvisionerTest : public ::testing::Test {
protected:
  Provisioner provisioner() {
    return Provisioner(EnvCache(cache_dir_.path()), resources().shipped, runner_,
                       [](const std::string&) {});
  }
  test_support::TempDir cache_dir_;
  test_support::TempDir tools_;
  SystemProcessRunner runner_;
};

} // namespace

// Tests that need root (the sandbox) and the real envs or the host's torch: `ctest -L env`.
class ProvisionerEnvTest : public ProvisionerTest {};

// mmdebstrap itself is exercised by scripts/test provisioning the real envs; here a stand-in
// "builds" by hard-linking the real trixie rootfs, so the env it yields is a real torch 2.6.
TEST_F(ProvisionerEnvTest, ProvisioningTwiceReusesTheEnvAndDeletingTheCacheRebuildsIt) {
  auto real_rootfs = test_support::test_env_cache().rootfs("trixie");
  ASSERT_TRUE(std::filesystem::is_directory(real_rootfs)) << "provision trixie first";
  auto builds = tools_.path() / "builds.log";
  auto fake = tools_.path() / "fake-mmdebstrap";
  write_script(fake, "for a; do target=$a; done\necho \"$@\" >> " + builds.string() +
                         "\nexec cp -al " + real_rootfs.string() + " \"$target\"\n");
  ProvisionOptions options;
  options.mmdebstrap = fake.string();

  auto first = provisioner().provision(copy_of_trixie(), options);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->built);
  EXPECT_EQ(first->environment.fingerprint().torch.substr(0, 4), "2.6.");
  EXPECT_FALSE(first->environment.manifest.packages.at("python3-torch").empty());
  EXPECT_EQ(count_lines(builds), 1u);

  auto second = provisioner().provision(copy_of_trixie(), options);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(second->built);
  EXPECT_EQ(count_lines(builds), 1u) << "a ready env was rebuilt";

  std::filesystem::remove_all(cache_dir_.path() / "trixie-copy");
  auto third = provisioner().provision(copy_of_trixie(), options);
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_TRUE(third->built);
  EXPECT_EQ(count_lines(builds), 2u);
  EXPECT_FALSE(has_partial_dirs(cache_dir_.path()));
}

TEST_F(ProvisionerTest, AFailedBuildLeavesNothingThatLooksReady) {
  auto fake = tools_.path() / "failing-mmdebstrap";
  write_script(fake, "for a; do target=$a; done\nmkdir -p \"$target/usr\"\n"
                     "echo 'E: Failed to fetch http://deb.example/InRelease' >&2\nexit 100\n");
  ProvisionOptions options;
  options.mmdebstrap = fake.string();
  auto outcome = provisioner().provision(copy_of_trixie(), options);
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("env trixie-copy: " + fake.string() +
                                         " trixie failed (exit status 100)"),
            std::string::npos)
      << outcome.error().message;
  EXPECT_NE(outcome.error().message.find("E: Failed to fetch"), std::string::npos);
  EXPECT_EQ(EnvCache(cache_dir_.path()).inspect(copy_of_trixie()).status, EnvStatus::missing);
  EXPECT_FALSE(has_partial_dirs(cache_dir_.path()));
}

TEST_F(ProvisionerTest, AnInterruptedBuildIsNeverTakenForAnEnv) {
  auto fake = tools_.path() / "hanging-mmdebstrap";
  write_script(fake, "for a; do target=$a; done\nmkdir -p \"$target/usr\"\nexec sleep 300\n");
  ProvisionOptions options;
  options.mmdebstrap = fake.string();
  options.build_timeout = 1s;
  auto outcome = provisioner().provision(copy_of_trixie(), options);
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("timed out"), std::string::npos);
  EXPECT_EQ(EnvCache(cache_dir_.path()).inspect(copy_of_trixie()).status, EnvStatus::missing);
  EXPECT_FALSE(has_partial_dirs(cache_dir_.path()));
}

TEST_F(ProvisionerEnvTest, AnInterpreterWithoutTorchIsRejectedByName) {
  // The real bookworm interpreter, with site-packages switched off: a Python without torch.
  auto python = tools_.path() / "python-without-torch";
  write_script(python, "exec /usr/bin/python3 -S \"$@\"\n");
  EnvSpec spec;
  spec.name = "no-torch";
  spec.kind = EnvKind::local;
  spec.python = python.string();
  auto outcome = provisioner().provision(spec, {});
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("env no-torch: "), std::string::npos);
  EXPECT_NE(outcome.error().message.find("cannot import torch: No module named 'torch'"),
            std::string::npos)
      << outcome.error().message;
}

TEST_F(ProvisionerTest, AMissingInterpreterOrLibtorchIsRejectedByName) {
  EnvSpec spec;
  spec.name = "venv";
  spec.kind = EnvKind::local;
  spec.python = "/nonexistent/venv/bin/python3";
  auto outcome = provisioner().provision(spec, {});
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().message,
            "env venv: python /nonexistent/venv/bin/python3: No such file or directory");
  spec.python = "/usr/bin/python3";
  spec.libtorch_cmake_dir = "/nonexistent/cmake/Torch";
  outcome = provisioner().provision(spec, {});
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().message,
            "env venv: libtorch_cmake_dir /nonexistent/cmake/Torch: no TorchConfig.cmake there");
}

TEST_F(ProvisionerEnvTest, ALocalEnvIsFingerprintedFromItsInterpreter) {
  EnvSpec spec;
  spec.name = "host";
  spec.kind = EnvKind::local;
  spec.python = "/usr/bin/python3";
  auto outcome = provisioner().provision(spec, {});
  ASSERT_TRUE(outcome) << outcome.error().message;
  const Fingerprint& fp = outcome->environment.fingerprint();
  EXPECT_EQ(fp.torch.substr(0, 5), "1.13.");
  EXPECT_EQ(fp.python.substr(0, 5), "3.11.");
  EXPECT_TRUE(fp.has_weights_only);
  EXPECT_EQ(fp.weights_only_default, false);
  EXPECT_FALSE(fp.has_add_safe_globals);
  ASSERT_TRUE(fp.allowlist);
  EXPECT_FALSE(fp.allowlist->empty());
  EXPECT_FALSE(provisioner().provision(spec, {})->built);
}

TEST_F(ProvisionerTest, OpeningAnUnprovisionedEnvSaysHowToProvisionIt) {
  auto env = provisioner().open(copy_of_trixie());
  ASSERT_FALSE(env);
  EXPECT_EQ(env.error().message, "env trixie-copy: missing in " + cache_dir_.path().string() +
                                     " (run: loadmatrix envs provision trixie-copy)");
}

TEST_F(ProvisionerTest, AContainerRuntimeThatCannotRunIsNamedInTheError) {
  auto runtime = tools_.path() / "docker";
  write_script(runtime,
               "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' "
               ">&2\nexit 125\n");
  EnvSpec spec;
  spec.name = "pt26";
  spec.kind = EnvKind::container;
  spec.python = "python3";
  spec.engine = {runtime.string()};
  spec.image = "pytorch/pytorch:2.6.0";
  auto outcome = provisioner().provision(spec, {});
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("env pt26: " + runtime.string() +
                                         " image inspect pytorch/pytorch:2.6.0"),
            std::string::npos)
      << outcome.error().message;
  EXPECT_NE(outcome.error().message.find("pull or build the image first"), std::string::npos);
  EXPECT_NE(outcome.error().message.find("exit status 125"), std::string::npos);
  EXPECT_NE(outcome.error().message.find("Cannot connect to the Docker daemon"), std::string::npos)
      << outcome.error().message;
}

// A container env with a suite as its recipe, against a stand-in engine whose store is one
// file (the image's ID) and whose `run` answers with the trixie env's real fingerprint report.
TEST_F(ProvisionerEnvTest, AnImageIsMadeFromItsSuiteOnceAndMeasuredAgainWhenItsIdChanges) {
  auto manifest = read_json_file(test_support::test_env_cache().manifest_path("trixie"));
  ASSERT_TRUE(manifest) << "provision trixie first";
  auto report = tools_.path() / "report.txt";
  std::ofstream(report) << "native noise\n@loadmatrix " << dump_json(manifest->at("fingerprint"))
                        << "\n";
  auto store = tools_.path() / "image-id";
  auto calls = tools_.path() / "calls.log";
  auto engine = tools_.path() / "engine";
  write_script(engine, "echo \"$@\" >> " + calls.string() + "\ncase \"$1\" in\n" +
                           "  image) test -s " + store.string() + " || { echo 'Error: " +
                           "localhost/lm:1: image not known' >&2; exit 125; }; cat " +
                           store.string() + ";;\n" +
                           "  import) test -s \"$2\" && echo sha256:1 > " + store.string() +
                           ";;\n" + "  run) cat " + report.string() + ";;\nesac\n");
  auto fake = tools_.path() / "fake-mmdebstrap";
  write_script(fake, "for a; do target=$a; done\necho mmdebstrap \"$@\" >> " + calls.string() +
                         "\nexec tar -cf \"$target\" -C " + tools_.path().string() +
                         " report.txt\n");
  EnvSpec spec;
  spec.name = "suite-image";
  spec.kind = EnvKind::container;
  spec.python = "python3";
  spec.engine = {engine.string()};
  spec.image = "localhost/lm:1";
  spec.suite = "trixie";
  spec.packages = {"python3-torch"};
  ProvisionOptions options;
  options.mmdebstrap = fake.string();
  auto count = [&](const std::string& word) {
    std::ifstream in(calls);
    size_t n = 0;
    for (std::string line; std::getline(in, line);) {
      n += line.starts_with(word);
    }
    return n;
  };

  auto first = provisioner().provision(spec, options);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->built);
  EXPECT_EQ(first->environment.manifest.image_id, "sha256:1");
  EXPECT_EQ(first->environment.fingerprint().torch.substr(0, 4), "2.6.");
  EXPECT_EQ(count("mmdebstrap --variant=apt --include=python3-torch trixie "), 1u);
  EXPECT_EQ(count("import "), 1u);
  EXPECT_FALSE(has_partial_dirs(cache_dir_.path())); // the tarball is gone once imported

  auto again = provisioner().provision(spec, options);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->built);
  EXPECT_EQ(count("run "), 1u);

  // The tag now names another image (a pull): measured again, not rebuilt.
  std::ofstream(store) << "sha256:2\n";
  EXPECT_FALSE(provisioner().open(spec));
  auto pulled = provisioner().provision(spec, options);
  ASSERT_TRUE(pulled) << pulled.error().message;
  EXPECT_TRUE(pulled->built);
  EXPECT_EQ(pulled->environment.manifest.image_id, "sha256:2");
  EXPECT_EQ(count("mmdebstrap"), 1u);
  EXPECT_EQ(count("run "), 2u);
  EXPECT_TRUE(provisioner().open(spec));

  // Another recipe (more packages): the image is made again, not only measured.
  spec.packages.push_back("libtorch-dev");
  auto remade = provisioner().provision(spec, options);
  ASSERT_TRUE(remade) << remade.error().message;
  EXPECT_TRUE(remade->built);
  EXPECT_EQ(count("mmdebstrap --variant=apt --include=python3-torch,libtorch-dev trixie "), 1u);
  EXPECT_EQ(remade->environment.manifest.image_id, "sha256:1"); // what the import stored

  // Gone from the engine: open says so and how to make it again.
  std::filesystem::remove(store);
  auto gone = provisioner().open(spec);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().message,
            "env suite-image: stale (its image cannot be found: " + engine.string() +
                " image inspect localhost/lm:1 (exit status 125): Error: localhost/lm:1: image "
                "not known) in " +
                cache_dir_.path().string() + " (run: loadmatrix envs provision suite-image)");
}
