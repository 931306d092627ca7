// A scan as SARIF 2.1.0 (util/sarif_log.h), for code scanning over a repository's checkpoints:
// per file, each dangerous global (LMS001), the envs whose weights_only load refuses it and the
// fix (LMS002), the envs where loading it raises or dies (LMS003), and a file that could not be
// read (LMS004), at the file itself (checkpoints are binary: no region). What each env did is
// the observed load where one ran, else the prediction, as in scan.json.
#pragma once

#include "scan/scan_result.h"
#include "util/json_file.h"
#include "util/sarif_log.h"

#include <filesystem>
#include <vector>

namespace loadmatrix {

// LMS001-LMS004, in id order.
const std::vector<SarifRule>& scan_sarif_rules();

// `base`: files under it get URIs relative to SRCROOT (= base); `information_uri` names the
// tool's documentation.
Json scan_sarif(const ScanResult& result, const std::filesystem::path& base,
                const std::string& information_uri);

} // namespace loadmatrix
