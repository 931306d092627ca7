// The one reader of the report line the runtime writes (runtime/_loadmatrix_runtime.py, send()):
// "@loadmatrix " and one JSON object, at the start of a line of the process's stdout. Native
// libraries inside an env (UCX, cpuinfo) print to stdout too; every line without the marker at
// its start is theirs and skipped. The worker, the fingerprint, the global resolver, the audit's
// parser and the C++ probe (probes/cpp_probe/cpp_probe.cpp) all write this line.
#pragma once

#include "util/error.h"
#include "util/json_file.h"

#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

inline constexpr std::string_view kProtocolMarker = "@loadmatrix ";

// Whether `line` (without its newline) is a protocol line.
bool is_protocol_line(std::string_view line);

// The JSON a protocol line carries. Errors: not a protocol line, or not JSON (read as foreign
// JSON, util/json_file.h: an invalid UTF-8 byte in a string is kept as \xNN), naming `origin`.
Expected<Json> parse_protocol_line(std::string_view line, const std::string& origin);

// Every protocol line of a finished process's stdout, in order, each parsed or its error.
std::vector<Expected<Json>> protocol_messages(std::string_view stdout_text,
                                              const std::string& origin);

// The last protocol line of a script that reports once (fingerprint.py): an error when there is
// none or when one is not JSON, naming `origin`.
Expected<Json> final_protocol_message(std::string_view stdout_text, const std::string& origin);

} // namespace loadmatrix
