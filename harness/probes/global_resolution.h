// Whether an env can resolve the globals a file names, as its torch.load's full unpickler
// would (find_class: import the module, look the name up). A file from a newer stack names
// things an older one lacks: `pathlib._local.PosixPath` (Python 3.13) read on 3.11,
// `torch.uint16` or `torch.float8_e4m3fn` (torch 2.3 / 2.1) or a jagged NestedTensor's class
// read on 1.13 fail with AttributeError or ModuleNotFoundError, which the bytes alone cannot
// tell. Measured inside the env's sandbox by cases/runtime/resolve_globals.py, which loads one
// crafted file per global (nothing in it is called), and cached per env and name.
#pragma once

#include "envs/environment.h"

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

// How a global is looked up. torch reads the zip and the legacy format through different
// unpickler classes (2.x maps `torch.tensor` to `torch._tensor` in zip files only, measured),
// and below protocol 4 a dotted name is one attribute, so both are part of the question.
struct GlobalLookup {
  std::string module;
  std::string qualname;
  bool zip = true; // the torch.save zip format; false: the legacy format (and raw pickles)
  int protocol = 2;

  std::string key() const; // "zip|2|module|qualname", the cache's and the map's key
};

struct GlobalResolution {
  bool present = true;
  std::string error; // what naming it raises here: "AttributeError: Can't get attribute ..."
  // What torch.load(weights_only=True) says of a file naming only it, in a fresh `import
  // torch`: "allowed", or the refusal. Measured because importing torch registers some
  // classes as safe that the default allowlist lacks (2.6+'s torch.nested registers
  // NestedTensor), and some refusals name no global (2.6+: "``torch.nested`` and
  // ``torch._dynamo`` must be imported to load nested jagged tensors"). Empty: not measured
  // (no weights_only in this torch).
  std::string weights_only;
};

// One env's answers, by GlobalLookup::key().
struct ResolvedGlobals {
  std::map<std::string, GlobalResolution, std::less<>> by_key;
  // Why some or all globals could not be measured (the env's script failed); those are
  // absent from by_key, and a prediction does not count them missing.
  std::string error;

  const GlobalResolution* find(const GlobalLookup& lookup) const;
};

struct ResolveOptions {
  std::vector<std::filesystem::path> python_path; // host dirs, as scan's --python-path
  // The env's cache file ("" = none). Only globals whose module the env itself provides are
  // cached: a --python-path module may change between scans, and one it shadows is asked again.
  std::filesystem::path cache_file;
};

// Resolves `lookups` in `env`: cached answers first, the rest in one sandboxed process. Never
// throws for a failing env: its error is in the result, and the globals stay unmeasured.
ResolvedGlobals resolve_globals(const Environment& env, ProcessRunner& runner,
                                const std::vector<GlobalLookup>& lookups,
                                const ResolveOptions& options);

} // namespace loadmatrix
