// One call of a torch loader in a user's Python source, as runtime/audit_calls.py found
// it with Python's own `ast`: where it is, which loader, and how its arguments are written.
#pragma once

#include "util/error.h"
#include "util/json_file.h"

#include <cstdint>
#include <filesystem>
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
  // The attempt's file when it is not the call's own: a helper the call reaches retries inside
  // (its loader call is the chain's last frame).
  std::filesystem::path path;
};

// One hop of a chain between a call site and the loader it reaches: a call inside a helper
// (runtime/audit_wrappers.py), the loader's own call last. `path` is the host's: the parser's
// sandbox path mapped back by the driver (audit/call_site_parser.h).
struct ChainFrame {
  std::filesystem::path path;
  int64_t line = 0;
  int64_t column = 0;   // 1-based, in Unicode code points
  std::string function; // "LightningModule.load_from_checkpoint", "<module>"
  std::string code;     // the call as written, on one line, at most 200 characters
  std::string package;  // the distribution whose RECORD lists the file ("lightning"), or ""
  std::string package_version;
  // The path as reports show it (printable): within its site-packages when packaged.
  std::string display;

  // "lightning 2.6.0: lightning/fabric/utilities/cloud_io.py:53", or the path and line.
  std::string label() const {
    return (package.empty() ? "" : package + " " + package_version + ": ") +
           (display.empty() ? path.string() : display) + ":" + std::to_string(line);
  }
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
  // A call reaching the loader through helpers: the helper called ("utils.io.load",
  // "lightning.pytorch.core.module.LightningModule.load_from_checkpoint",
  // "functools.partial(torch.load)"), the hops down to the loader's call, and the keyword of
  // this call that sets the loader's weights_only ("" when none does: the helper decides).
  // weights_only, pickle_module and mmap above are then what the loader receives, this call's
  // arguments bound through every hop. Empty `chain`: the loader is called here.
  std::string via;
  std::vector<ChainFrame> chain;
  std::string weights_only_keyword = "weights_only";
  // How this call sets that keyword: "keyword", "position", "mappings" (a **mapping may),
  // "default" (it does not pass it), or "" (unknown: rewritten in the generic form).
  std::string weights_only_bound;
  // What the loader receives when this call leaves that keyword out: omitted for a direct call
  // or a helper handing on **kwargs; a helper's own default (none, ...) otherwise, which a torch
  // without the argument refuses whatever this call says.
  WrittenWeightsOnly weights_only_left_out = WrittenWeightsOnly::omitted;
  int64_t loads = 1; // the loads of this same form the call reaches (a helper's branches)

  // One element of audit_calls.py's "calls"; an error names the field.
  static Expected<CallSite> from_json(const Json& call, size_t file);
};

} // namespace loadmatrix
