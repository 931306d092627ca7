// What an environment is, as measured: written once when the env is provisioned, read by
// every later stage. Versions and allowlists come from the env itself (fingerprint.py).
#pragma once

#include "envs/loader_facts.h"
#include "matrix/env_spec.h"
#include "util/error.h"
#include "util/json_file.h"

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace loadmatrix {

inline constexpr const char* kManifestSchema = "loadmatrix.env/1";

// Raised with fingerprint.py's FINGERPRINT_VERSION: an env measured by an older script is
// measured again before use (its rootfs is kept).
inline constexpr int kFingerprintVersion = 4;

// What the env's weights-only unpickler accepts, measured by fingerprint.py with crafted
// pickles. The static analyzer's per-version prediction reads only these facts.
struct UnpicklerRules {
  std::set<std::string, std::less<>> opcodes;      // pickletools names it implements
  bool build_allowlisted_class = false;            // BUILD of an allowlisted user class
  bool newobj_allowlisted_class = false;           // NEWOBJ of one
  bool setitems_allowlisted_dict_subclass = false; // SETITEMS into an allowlisted dict subclass
  bool append_allowlisted_list_subclass = false;   // APPENDS into an allowlisted list subclass
  bool maps_python2_names = false;                 // __builtin__.set is read as builtins.set
  bool torchscript_loads = false; // torch.load(weights_only=True) of a TorchScript archive
  std::string torchscript_refusal;
};

struct Fingerprint {
  int version = 1; // fingerprint.py's FINGERPRINT_VERSION when it was measured
  std::string torch;
  std::string python;
  std::optional<std::string> numpy;
  bool has_weights_only = false;
  std::optional<bool> weights_only_default; // measured by loading a non-allowlisted class
  bool has_add_safe_globals = false;
  bool has_safe_globals = false;
  bool has_get_unsafe_globals_in_checkpoint = false;
  bool has_mmap = false;
  std::optional<std::string> cxx;
  std::vector<std::string> libtorch_cmake_dirs;
  std::optional<std::vector<std::string>> allowlist;
  std::vector<std::string> blocklisted_modules;
  std::optional<UnpicklerRules> rules;     // absent where torch.load has no weights_only
  std::optional<LoaderFacts> loader_calls; // absent when the env could not measure them
  std::string torch_file;
  Json raw; // everything fingerprint.py said, kept verbatim

  static Expected<Fingerprint> from_json(const Json& report, const std::string& origin);
};

struct Manifest {
  std::string name;
  EnvKind kind = EnvKind::debian;
  Json spec;           // EnvSpec::identity() at build time
  std::string created; // UTC, ISO 8601
  double build_seconds = 0;
  // debian kind: Debian package -> version; pip kind: the resolved set, distribution (PEP 503
  // name) -> version, as installed (a venv whose set changes since is stale)
  std::map<std::string, std::string> packages;
  std::optional<long long> torch_mtime; // local kind: detects an upgraded torch
  // container kind: the image measured ("sha256:..."; a re-pulled tag is measured again) and,
  // for an image made from a debian env, that env's `created` (a rebuilt env remakes it)
  std::optional<std::string> image_id;
  std::optional<std::string> image_source_created;
  std::optional<std::string> uv; // pip kind: `uv --version` of the uv that made it
  Fingerprint fingerprint;

  Json to_json() const;
  static Expected<Manifest> from_json(const Json& document, const std::string& origin);
};

std::string utc_now_iso8601();

} // namespace loadmatrix
