#include "envs/env_cache.h"
#include "testing/test_envs.h"
#include "util/output_file.h"

#include <cstdlib>
#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

class ScopedEnv {
public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      old_ = old;
    }
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { old_ ? ::setenv(name_, old_->c_str(), 1) : ::unsetenv(name_); }

private:
  const char* name_;
  std::optional<std::string> old_;
};

EnvSpec debian_spec(const std::string& name) {
  EnvSpec spec;
  spec.name = name;
  spec.kind = EnvKind::debian;
  spec.suite = "trixie";
  spec.packages = default_debian_packages();
  return spec;
}

void write_manifest(const EnvCache& cache, const EnvSpec& spec,
                    int fingerprint_version = kFingerprintVersion) {
  Manifest manifest;
  manifest.name = spec.name;
  manifest.spec = spec.identity();
  manifest.created = utc_now_iso8601();
  manifest.fingerprint.raw = {
      {"torch", "2.6.0"}, {"python", "3.13.5"}, {"fingerprint_version", fingerprint_version}};
  std::filesystem::create_directories(cache.rootfs(spec.name));
  ASSERT_TRUE(write_json_file(cache.manifest_path(spec.name), manifest.to_json()));
}

} // namespace

TEST(EnvCacheTest, FlagBeatsEnvironmentVariableBeatsXdgBeatsHome) {
  ScopedEnv home("HOME", "/home/u");
  ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
  ScopedEnv var("LOADMATRIX_ENV_DIR", nullptr);
  EXPECT_EQ(EnvCache::resolve_dir(""), "/home/u/.cache/loadmatrix/envs");
  ScopedEnv xdg2("XDG_CACHE_HOME", "/xdg");
  EXPECT_EQ(EnvCache::resolve_dir(""), "/xdg/loadmatrix/envs");
  ScopedEnv var2("LOADMATRIX_ENV_DIR", "/from/env");
  EXPECT_EQ(EnvCache::resolve_dir(""), "/from/env");
  EXPECT_EQ(EnvCache::resolve_dir("/from/flag"), "/from/flag");
}

TEST(EnvCacheTest, AnEnvIsReadyOnlyOnceItsManifestIsInPlace) {
  test_support::TempDir dir;
  EnvCache cache(dir.path());
  EnvSpec spec = debian_spec("trixie");
  EXPECT_EQ(cache.inspect(spec).status, EnvStatus::missing);
  // An interrupted build leaves only a partial directory, which is never taken for the env.
  std::filesystem::create_directories(dir.path() / "trixie.partial-123" / "rootfs");
  EXPECT_EQ(cache.inspect(spec).status, EnvStatus::missing);
  write_manifest(cache, spec);
  EXPECT_EQ(cache.inspect(spec).status, EnvStatus::ready);
}

TEST(EnvCacheTest, ADifferentSpecMakesTheEnvStale) {
  test_support::TempDir dir;
  EnvCache cache(dir.path());
  EnvSpec spec = debian_spec("trixie");
  write_manifest(cache, spec);
  spec.packages.push_back("python3-scipy");
  EnvState state = cache.inspect(spec);
  EXPECT_EQ(state.status, EnvStatus::stale);
  EXPECT_NE(state.detail.find("declares this env differently"), std::string::npos);
}

// fingerprint.py learned to measure more: the env is measured again, not rebuilt.
TEST(EnvCacheTest, AnEnvMeasuredByAnOlderFingerprintNeedsOnlyMeasuringAgain) {
  test_support::TempDir dir;
  EnvCache cache(dir.path());
  EnvSpec spec = debian_spec("trixie");
  write_manifest(cache, spec, kFingerprintVersion - 1);
  EnvState state = cache.inspect(spec);
  EXPECT_EQ(state.status, EnvStatus::stale);
  EXPECT_TRUE(state.remeasure_only);
  EXPECT_NE(state.detail.find("measured by fingerprint version"), std::string::npos);
  spec.packages.push_back("python3-scipy"); // a changed spec still needs a rebuild
  write_manifest(cache, debian_spec("trixie"), kFingerprintVersion - 1);
  EXPECT_FALSE(cache.inspect(spec).remeasure_only);
}

TEST(EnvCacheTest, AMissingChrootOrAnUnreadableManifestIsBroken) {
  test_support::TempDir dir;
  EnvCache cache(dir.path());
  EnvSpec spec = debian_spec("trixie");
  write_manifest(cache, spec);
  std::filesystem::remove_all(cache.rootfs("trixie"));
  EnvState state = cache.inspect(spec);
  EXPECT_EQ(state.status, EnvStatus::broken);
  EXPECT_EQ(state.detail, cache.rootfs("trixie").string() + ": missing");

  ASSERT_TRUE(write_output_file(cache.manifest_path("trixie"), "{ not json"));
  state = cache.inspect(spec);
  EXPECT_EQ(state.status, EnvStatus::broken);
  EXPECT_NE(state.detail.find("manifest.json:1:4: invalid JSON"), std::string::npos)
      << state.detail;
}
