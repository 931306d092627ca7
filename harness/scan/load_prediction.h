// The static prediction: what one env's torch.load will do with a scanned file, from the
// file's globals and opcodes and the env's measured allowlist and unpickler rules alone.
#pragma once

#include "envs/manifest.h"
#include "matrix/loader_mode.h"
#include "probes/global_resolution.h"
#include "records/classify.h"
#include "scan/file_scan.h"

#include <bitset>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace loadmatrix {

// The two loads a scan predicts: torch.load(weights_only=True), and a bare torch.load.
enum class ScanMode { weights_only, version_default };
// The loader mode a scan's load is: weights_only, or the version's bare torch.load (default).
LoaderMode scan_loader_mode(ScanMode mode);
const char* scan_mode_id(ScanMode mode); // its loader mode's id: "weights_only", "default"

struct LoadPrediction {
  // pass, blocked, error, crash or unsupported; skipped when not predicted (a TorchScript
  // archive whose skeleton does not stand in, one in the 1.0-1.2 layout no env here was asked
  // about), `detail` saying why. A skipped prediction is compared with nothing.
  Outcome outcome = Outcome::pass;
  BlockReason reason = BlockReason::none;
  // Every global the unpickler refuses before the first refusal no allowlist can lift, in
  // stream order and spelled as that torch reports it.
  std::vector<std::string> blocked_globals;
  std::string detail; // why, in words
  // When blocked: the allowlist that makes it load, or why no safe one exists.
  bool fixable = false;
  std::vector<std::string> fix_allowlist;
  std::string no_fix;
  bool runs_code = false; // a full unpickler: loading executes whatever the pickle says
  // When an error because the env lacks a global the file names: that global.
  std::string missing_global;
};

// An env's weights-only rules indexed for lookup. A scan predicts every file against the same
// few envs, and searching the opcode names and the allowlist for each file cost more than
// reading a small file; index once per scan. Views into `env`, which must outlive this.
struct EnvLoadRules {
  explicit EnvLoadRules(const Fingerprint& env);
  const Fingerprint* env;
  std::bitset<256> implemented; // the opcodes its weights-only unpickler implements
  std::unordered_set<std::string_view> allowlist;
  std::unordered_set<std::string_view> blocklisted_modules;
  // Which globals the env resolves (probes/global_resolution.h), when they were measured: a
  // global it lacks makes a full-unpickler load an error and leaves no allowlist that works.
  const ResolvedGlobals* resolved = nullptr;
};

// How `global` of `scan` is looked up by torch.load: the file's format and protocol.
GlobalLookup global_lookup(const FileScan& scan, const ScannedGlobal& global);

LoadPrediction predict_load(const FileScan& scan, const EnvLoadRules& env, ScanMode mode);
// Indexes `env` for this one prediction.
LoadPrediction predict_load(const FileScan& scan, const Fingerprint& env, ScanMode mode);

} // namespace loadmatrix
