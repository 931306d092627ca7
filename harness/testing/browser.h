// Debian's headless Chromium, for tests that must see a report as a reviewer's browser does.
#pragma once

#include "util/process.h"

#include <filesystem>
#include <string>

namespace loadmatrix::test_support {

// The DOM after the page's scripts ran (chromium --dump-dom).
ProcessResult browser_dom(const std::string& url);
ProcessResult browser_screenshot(const std::string& url, const std::filesystem::path& png);
// Where tests leave artefacts for people to look at: build/test-output/.
std::filesystem::path test_output_dir();

} // namespace loadmatrix::test_support
