// One call of a torch loader in a user's Python source, as runtime/audit_calls.py found
// it with Python's own `ast`: where it is, which loader, and how its arguments are written.
#pragma once

#include "util/error.h"
#include "util/json_file.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

// weights_only as the call writes it: a literal, left out, or anything else (an expression,
// a **kwargs that may hold it). None is its own: it is passed (so a torch without the argument
// raises TypeError) and means the default.
enum class WrittenWeightsOnly : uint8_t { omitted, true_, false_, none, dynamic };
const char* written_weights_only_name(WrittenWeightsOnly value); // "omitted", "true", ...

// pickle_module and mmap: passed, left out, or maybe passed through *args / **kwargs.
enum class ArgumentUse : uint8_t { omitted, passed, dynamic };
const char* argument_use_name(ArgumentUse use); // "omitted", "passed", "dynamic"

// A retry on the full unpickler after a weights-only attempt on the same input: the call sits in
// an `except` handler of a `try` that loads it (kind "except"), or in a loop over
// weights_only=True, False (kind "retry").
struct Fallback {
  std::string kind;
  int64_t attempt_line = 0;
};

// Bytes [begin, end) of CallSite::code.
struct CodeSpan {
  size_t begin = 0;
  size_t end = 0;
};

// A keyword argument as written: `name=value` at `span`, its value at `value`.
struct KeywordSpan {
  std::string name; // "weights_only", written at span.begin
  CodeSpan span;
  CodeSpan value;
};

// Where the call's parts are in `code`, as the finder's `ast` saw them: a suggestion rewrites
// the call by offset, never by reading its text again. A part past the cut of a call longer than
// `code` holds is absent; the closing parenthesis and trailing comma are there only when `code`
// holds the whole call. Empty for a call the finder gave no spans (nothing is then rewritten).
struct CallSpans {
  std::optional<CodeSpan> callee;    // "th.load"
  std::vector<KeywordSpan> keywords; // the named ones, in source order (not **kwargs)
  std::optional<size_t> close_paren; // the call's last byte
  std::optional<CodeSpan> trailing_comma;

  const KeywordSpan* keyword(std::string_view name) const;
};

struct CallSite {
  size_t file = 0; // index into the audit's files
  int64_t line = 0;
  int64_t column = 0; // 1-based, in Unicode code points
  int64_t end_line = 0;
  std::string function; // enclosing function, "Class.method", or "<module>"
  std::string callee;   // canonical: "torch.load", "torch.hub.load_state_dict_from_url", ...
  WrittenWeightsOnly weights_only = WrittenWeightsOnly::omitted;
  ArgumentUse pickle_module = ArgumentUse::omitted;
  ArgumentUse mmap = ArgumentUse::omitted;
  // Inside `with torch.serialization.safe_globals([...])`: the names written there; an empty
  // optional inside it means they are not a literal list.
  bool in_safe_globals = false;
  std::optional<std::vector<std::string>> safe_globals;
  std::optional<Fallback> fallback;
  std::string code; // the call as written, on one line, at most 200 characters
  CallSpans spans;

  // One element of audit_calls.py's "calls"; an error names the field.
  static Expected<CallSite> from_json(const Json& call, size_t file);
};

} // namespace loadmatrix
