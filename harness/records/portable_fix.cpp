#include "records/portable_fix.h"

#include "records/classify.h"
#include "util/json_file.h"

#include <cstdlib>
#include <fmt/core.h>

namespace loadmatrix {

namespace {

// The snippet's body after the list: names are resolved where it runs, because the same class
// has different homes across numpy versions, and some exist in only some of them.
constexpr const char* kLoader = R"(

def _resolve(name):
    """The object `name` (as pickles spell it) refers to here, trying numpy 1's and numpy 2's
    module for it; an (object, name) pair when this environment serves it under another name,
    None when it has no such thing (a file naming it does not load here anyway)."""
    module, _, attribute = name.rpartition(".")
    for candidate in (module, module.replace("numpy.core", "numpy._core", 1),
                      module.replace("numpy._core", "numpy.core", 1)):
        try:
            obj = getattr(importlib.import_module(candidate), attribute)
        except (ImportError, AttributeError):
            continue
        own = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
        return obj if own == name else (obj, name)
    return None


def load_checkpoint(path):
    if hasattr(torch.serialization, "add_safe_globals"):  # torch 2.4+: weights-only, allowlisted
        entries = [entry for entry in map(_resolve, SAFE_GLOBALS) if entry is not None]
        try:
            torch.serialization.add_safe_globals(entries)
        except (TypeError, ValueError):  # a torch that takes objects only, not (object, name)
            torch.serialization.add_safe_globals(
                [entry[0] if isinstance(entry, tuple) else entry for entry in entries])
        return torch.load(path, map_location="cpu", weights_only=True)
    # Before torch 2.4 no allowlist exists: only the full unpickler reads these classes, and it
    # runs whatever the file names. Trusted files only.
    if "weights_only" in inspect.signature(torch.load).parameters:
        return torch.load(path, map_location="cpu", weights_only=False)
    return torch.load(path, map_location="cpu")
)";

} // namespace

std::optional<std::string> numpy2_home(std::string_view global, std::string_view numpy_version) {
  constexpr std::string_view kNumpyCore = "numpy.core.";
  if (std::atoi(std::string(numpy_version).c_str()) < 2 || !global.starts_with(kNumpyCore)) {
    return std::nullopt;
  }
  return "numpy._core." + std::string(global.substr(kNumpyCore.size()));
}

PortableSnippet portable_snippet(const std::vector<std::string>& globals) {
  PortableSnippet snippet;
  for (const auto& name : globals) {
    if (is_dangerous_global(name) || name.starts_with("copyreg.extension_registry[")) {
      snippet.why_not = fmt::format("{} can run code or reach the system: no allowlist may name "
                                    "it, on any version; weights_only=False for trusted files only",
                                    name);
      return snippet;
    }
  }
  std::string list;
  for (const auto& name : globals) {
    // A JSON string (quotes, backslashes and control characters escaped) is a valid Python
    // string literal: a name from a file cannot break out of it.
    list += "    " + dump_json(Json(name), -1) + ",\n";
  }
  snippet.source = "import importlib\nimport inspect\n\nimport torch\n\n"
                   "# What these checkpoints hold besides tensors and plain containers.\n"
                   "SAFE_GLOBALS = [\n" +
                   list + "]" + kLoader;
  return snippet;
}

} // namespace loadmatrix
