// An env's measured facts as data: what scan and audit predict from when the env itself is not
// provisioned here (a wheel installed on a laptop, a pre-commit hook, a CI runner without GBs of
// torch). One document, loadmatrix.facts/1 (reports/schemas/facts.schema.json), holds several
// envs; `loadmatrix facts export` writes it from provisioned envs and the wheel ships the one of
// matrix/releases.json (matrix/facts/releases.json).
//
// Shape: {"schema": "loadmatrix.facts/1", "created": ISO 8601 UTC,
//         "envs": [{"manifest": <the env's manifest, loadmatrix.env/1: spec identity, packages,
//                                 fingerprint (default, APIs, allowlist, unpickler rules,
//                                 blocklisted modules, loader call forms)>,
//                   "globals": {GlobalLookup/SparseLookup key: {"present", "error",
//                                                                "weights_only"}}}]}
// "globals" answers only the names it was asked about at export (the globals of the checkpoints
// given to --globals-from); a name it lacks is predicted as present, as with an env whose resolver
// failed.
#pragma once

#include "envs/environment.h"
#include "probes/global_resolution.h"
#include "util/error.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace loadmatrix {

inline constexpr const char* kFactsSchema = "loadmatrix.facts/1";

struct EnvFacts {
  Manifest manifest;
  ResolvedGlobals globals; // by_key only; never archives (an archive is a file, not a name)
};

struct FactsFile {
  std::string created;
  std::vector<EnvFacts> envs;

  Json to_json() const;
  // The env measured from `spec`: same name and same identity (requirements, suite, python...);
  // nullptr when none is.
  const EnvFacts* find(const EnvSpec& spec) const;
};

// Reads and checks a facts file. Every error names the file and the field ("facts.json: envs[2]
// .manifest.fingerprint.allowlist: expected a list of strings"); a file from another machine is
// data, never trusted to be well formed.
Expected<FactsFile> read_facts_file(const std::filesystem::path& file);

// An Environment that exists only as facts: `facts_source` is set and nothing may run in it
// (its sandbox is never used). `spec` is the matrix's, which FactsFile::find matched.
Environment environment_from_facts(const EnvSpec& spec, const EnvFacts& facts,
                                   const std::filesystem::path& source,
                                   const ShippedFiles& shipped);

// The facts' answers a scan may use: without those about modules that a --python-path directory
// provides (the user's own classes are not the env's).
ResolvedGlobals facts_answers(const ResolvedGlobals& exported,
                              const std::vector<std::filesystem::path>& python_path);

} // namespace loadmatrix
