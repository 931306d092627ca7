#include "testing/browser.h"

#include "testing/test_envs.h"

namespace loadmatrix::test_support {

namespace {

// No sandbox (we are root), and no background traffic: this machine has no network.
ProcessResult run_chromium(std::vector<std::string> extra, const std::string& url) {
  static TempDir profile;
  ProcessSpec spec;
  spec.argv = {"chromium",
               "--headless",
               "--no-sandbox",
               "--disable-gpu",
               "--disable-quic",
               "--no-first-run",
               "--disable-background-networking",
               "--disable-component-update",
               "--disable-sync",
               "--user-data-dir=" + (profile.path() / "profile").string()};
  spec.argv.insert(spec.argv.end(), extra.begin(), extra.end());
  spec.argv.push_back(url);
  spec.timeout = std::chrono::seconds(120);
  spec.output_limit = 256 << 20;
  SystemProcessRunner runner;
  return runner.run(spec);
}

} // namespace

ProcessResult browser_dom(const std::string& url) {
  return run_chromium({"--virtual-time-budget=5000", "--dump-dom"}, url);
}

ProcessResult browser_screenshot(const std::string& url, const std::filesystem::path& png) {
  return run_chromium({"--window-size=1400,2000", "--screenshot=" + png.string()}, url);
}

std::filesystem::path test_output_dir() {
  auto dir = std::filesystem::path(LOADMATRIX_TEST_OUTPUT_DIR);
  std::filesystem::create_directories(dir);
  return dir;
}

} // namespace loadmatrix::test_support
