// The loadmatrix binary as the CLI tests run it, and what it wrote.
#pragma once

#include "util/json_file.h"
#include "util/process.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace loadmatrix::test_support {

// build/bin/loadmatrix with `args`, stdout and stderr captured (up to 64 MiB each).
ProcessResult run_loadmatrix(const std::vector<std::string>& args,
                             std::chrono::minutes timeout = std::chrono::minutes(10));

// scripts/validate-json: `files` (JSON documents, or JSON Lines) against
// reports/schemas/SCHEMA.schema.json; exit 0 when every one follows it.
ProcessResult validate_against_schema(const std::string& schema,
                                      const std::vector<std::filesystem::path>& files);

// A results.json's records by their key, "case|producer|consumer|mode".
std::map<std::string, Json> records_by_key(const std::filesystem::path& results);

} // namespace loadmatrix::test_support
