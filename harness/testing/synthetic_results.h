// Hand-made results for analysis and report tests: three envs in torch order, and records
// whose outcomes a test chooses cell by cell.
#pragma once

#include "records/record.h"
#include "util/json_file.h"

#include <functional>
#include <string>
#include <vector>

namespace loadmatrix::test_support {

Json synthetic_header();
Record synthetic_record(const std::string& case_name, const std::string& producer,
                        const std::string& consumer, const std::string& mode, Outcome outcome,
                        std::vector<std::string> globals = {});

// `cases` recipes over old/mid/new and the modes default, weights_only and allowlist: files are
// blocked on mid and new when `blocked(case index)` says so, and the allowlist fixes them.
std::vector<Record> synthetic_records(size_t cases, const std::function<bool(size_t)>& blocked);

} // namespace loadmatrix::test_support
