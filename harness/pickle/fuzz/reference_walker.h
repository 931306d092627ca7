// A second pickle walker, written for reading rather than speed, that the fuzzer and
// ReferenceWalkerTest hold analyze_pickle to: on any bytes both must give the same analysis or
// the same error, offset included.
//
// It follows the same specification (pickletools' opcodes; the limits of PickleLimits; strings
// kept up to SymbolicValue::kMaxText bytes) with none of the fast walker's machinery: values own
// their strings, the memo is a std::map, a MARK is found by looking down the stack, every opcode
// is counted against the budget, and each read checks bounds against an offset.
#pragma once

#include "pickle/pickle_analysis.h"

#include <string>
#include <string_view>

namespace loadmatrix {

Expected<PickleAnalysis> reference_analyze_pickle(std::string_view bytes,
                                                  const PickleLimits& limits = {});

// "" when the two results agree, else what differs first, for a fuzzer's crash report.
std::string analysis_difference(const Expected<PickleAnalysis>& fast,
                                const Expected<PickleAnalysis>& reference);

} // namespace loadmatrix
