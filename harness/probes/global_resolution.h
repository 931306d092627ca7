// Whether an env can resolve the globals a file names, as its torch.load's full unpickler
// would (find_class: import the module, look the name up). A file from a newer stack names
// things an older one lacks: `pathlib._local.PosixPath` (Python 3.13) read on 3.11,
// `torch.uint16` or `torch.float8_e4m3fn` (torch 2.3 / 2.1) or a jagged NestedTensor's class
// read on 1.13 fail with AttributeError or ModuleNotFoundError, which the bytes alone cannot
// tell. Measured inside the env's sandbox by runtime/resolve_globals.py, which loads one
// crafted file per global (nothing in it is called), and cached per env and name.
#pragma once

#include "envs/environment.h"
#include "util/json_file.h"

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

// Whether the env's torch._utils._rebuild_sparse_tensor takes data of `fields` items for
// `layout` (pickle/pickle_analysis.h, SparseRebuild): 2.x writes a COO tensor's with a fourth,
// is_coalesced, that 1.7 and 1.13 cannot unpack (ValueError, measured). Asked by calling the
// env's own function on a tiny tensor of that layout; answered as a GlobalResolution (present:
// it takes them) and cached with the globals.
struct SparseLookup {
  std::string layout; // "torch.sparse_coo", "torch.sparse_csr", ...
  size_t fields = 0;

  std::string key() const; // "sparse|layout|fields"
};

// What the env's torch.jit.load makes of a TorchScript archive, which torch.load hands it: an
// archive's code is compiled by the reader, and a newer torch's code does not compile on an
// older one (1.13+'s `NoneType` attributes on 1.7: "Unknown type name", measured), nor can an
// older one read a newer one's debug records to report it (1.7 aborts, signal 6). Measured by
// importing the archive in a child of the resolver, in the sandbox; nothing Python is run.
struct ArchiveImport {
  enum class Result { pass, error, crash };
  Result result = Result::pass;
  std::string error; // the exception ("RuntimeError: ..."), or how the child died
  // Whether the answer is the whole archive's, not its skeleton's (ArchiveQuestion::whole).
  bool whole = false;
  // For an archive asked with torch_load: what torch.load did with it, by loader mode id
  // ("default", "weights_only" where the torch has it), as the worker reports a load
  // (records/classify.h's facts: {"status": "returned"} or "raised" with "error_type" and
  // "message", "crashed", "timeout").
  std::map<std::string, Json> loads;
};

// A TorchScript archive to import: `file` names it in the answers; `readable` is what is
// imported, a copy the sandbox user can read (a scan's skeleton without the tensor data,
// scan/torchscript_skeleton.h, or the whole archive when `whole`).
struct ArchiveQuestion {
  std::filesystem::path file;
  std::filesystem::path readable;
  bool whole = false;
  // Also ask torch.load itself: for an archive torch.load does not hand to torch.jit.load (the
  // 1.0-1.2 layout, pickle/checkpoint_file.h's torchscript_legacy), which it cannot unpickle.
  bool torch_load = false;
};

// What a scan asks an env.
struct EnvQuestions {
  std::vector<GlobalLookup> globals;
  std::vector<SparseLookup> sparse;
  std::vector<ArchiveQuestion> torchscript;
};

// One env's answers, by GlobalLookup::key() and SparseLookup::key().
struct ResolvedGlobals {
  std::map<std::string, GlobalResolution, std::less<>> by_key;
  // By ArchiveQuestion::file; never cached (an archive is a file, not a name).
  std::map<std::filesystem::path, ArchiveImport> torchscript;
  // Why some or all globals could not be measured (the env's script failed); those are
  // absent from by_key, and a prediction does not count them missing.
  std::string error;

  const GlobalResolution* find(const GlobalLookup& lookup) const { return find_key(lookup.key()); }
  const GlobalResolution* find(const SparseLookup& lookup) const { return find_key(lookup.key()); }
  const GlobalResolution* find_key(const std::string& key) const;
  const ArchiveImport* find(const std::filesystem::path& archive) const;
};

struct ResolveOptions {
  std::vector<std::filesystem::path> python_path; // host dirs, as scan's --python-path
  // The env's cache file ("" = none). Only globals whose module the env itself provides are
  // cached: a --python-path module may change between scans, and one it shadows is asked again.
  std::filesystem::path cache_file;
};

// Whether a --python-path directory provides `module`'s top-level package or module: an answer
// cached (or exported as facts) about the env's own module of that name does not hold then.
bool provided_by_python_path(const std::string& module,
                             const std::vector<std::filesystem::path>& python_path);

// Answers `questions` in `env`: cached answers first, the rest in one sandboxed process. Never
// throws for a failing env: its error is in the result, and what it did not answer stays
// unmeasured.
ResolvedGlobals resolve_globals(const Environment& env, ProcessRunner& runner,
                                const EnvQuestions& questions, const ResolveOptions& options);
ResolvedGlobals resolve_globals(const Environment& env, ProcessRunner& runner,
                                const std::vector<GlobalLookup>& lookups,
                                const ResolveOptions& options);

} // namespace loadmatrix
