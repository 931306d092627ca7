// A cell's record from what its load reported: the classification applied, a fault of the
// driver's own made the cell's `error`, and the refusal text a verified fix reports.
#pragma once

#include "records/classify.h"
#include "records/record.h"

#include <exception>
#include <string>

namespace loadmatrix {

// Outcome, error type, message, detail, reason and blocked globals from `c`.
void apply_classification(Record& record, const Classification& c);

// What a fault of the driver's own while handling one cell (an unexpected reply shape, a file
// it could not write) makes of that cell: an `error` naming it, while every other cell goes on.
Json internal_error_facts(const std::exception& e);
Record internal_error_record(Record record, const std::exception& e);

// Why a load did not return, in few words (at most 300 bytes): torch 2.6+ puts the reason after
// a paragraph about the flip ("WeightsUnpickler error: Unsupported global: ..."), which is the
// part to show; some reasons start on a later line ("WeightsUnpickler error: \n\nCan only
// SETITEM for dict, ...", 2.14's type checks, measured).
std::string refusal_text(const Json& facts);

} // namespace loadmatrix
