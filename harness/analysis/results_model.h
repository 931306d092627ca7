// Compute once, render many: everything a report shows, derived from results.json alone.
// Renderers (reports/) read only this model.
#pragma once

#include "records/record.h"
#include "util/json_file.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

struct EnvInfo {
  std::string name;
  std::string torch;
  std::string python;
  std::string numpy;
  std::string kind;
  std::optional<bool> weights_only_default;
  // pip envs: the resolved set, distribution -> version (env_summary's "packages")
  std::map<std::string, std::string> packages;
  // Whether torch.load takes weights_only at all (1.7: no); unset in results files written
  // before it was recorded, where a null weights_only_default means the same (the schema's).
  std::optional<bool> has_weights_only;
};

// What differs between two envs, as a reader names it: "torch 2.5.1 → 2.6.0", "lightning
// 2.5.6 → 2.6.0", "+opacus 1.5.3", "12 nvidia-* packages"; torch, Python and numpy first, then
// the other distributions of pip envs by name. Empty when nothing recorded differs.
std::vector<std::string> what_differs(const EnvInfo& from, const EnvInfo& to);

// How to make the files of a cause group load on the newer version.
struct SuggestedFix {
  enum class Kind { allowlist, weights_only_false, none } kind = Kind::none;
  std::vector<std::string> globals; // allowlist: what to allowlist
  bool verified = false;            // that exact change made every file of the group load there
  std::string snippet;              // Python to paste
  std::string note;                 // why this fix, and its caveat
};

// One snippet for every env of the run (records/portable_fix.h), checked by loading each file
// of the group with it on each env: shown first, since a project supports several versions.
struct PortableFix {
  std::vector<std::string> globals;       // what it allowlists ([] when no check ran)
  std::string snippet;                    // the Python, when a safe one exists
  std::string why_not;                    // else why none can exist
  std::vector<std::string> verified_envs; // loaded every file there
  std::vector<std::pair<std::string, std::string>> failures; // env -> what its load raised
  std::vector<std::string> unchecked_envs;                   // no check recorded there
  bool merged_lists = false; // files were checked with different lists; `globals` unites them
  bool everywhere() const { return failures.empty() && unchecked_envs.empty() && !snippet.empty(); }
};

struct CellPair {
  std::string case_name;
  std::string producer;
  std::string mode;
  const Record* before = nullptr;
  const Record* after = nullptr;
};

// Regressions sharing one cause: the same blocked globals, or the same error.
struct CauseGroup {
  std::string cause;  // "argparse.Namespace" or "error: ModuleNotFoundError: No module ..."
  std::string reason; // blocked reason id, or the outcome for non-blocked failures
  std::vector<CellPair> cells;
  size_t checkpoints = 0; // distinct (case, producer) files
  std::string message;    // one exact message, as torch printed it (ANSI removed)
  SuggestedFix fix;
  // Blocked global -> where it sits in the saved objects (Record::object_paths), each path
  // once: the change on the saving side, e.g. store vars(args) at ["args"] instead of args.
  std::map<std::string, std::set<std::string>> object_paths;
  PortableFix portable;

  // "blocks" when the weights-only unpickler refused the files, "breaks" for other failures.
  const char* verb() const;
};

struct VersionChange {
  EnvInfo from;
  EnvInfo to;
  std::vector<CellPair> regressions; // passed before, fails now
  std::vector<CellPair> fixes;       // failed before, passes now
  std::vector<CellPair> still_failing;
  size_t unchanged = 0;           // the rest: pass->pass, or a mode only one side has
  std::vector<CauseGroup> causes; // regressions grouped, largest first
  // mode -> producer -> regressions count
  std::map<std::string, std::map<std::string, size_t>> regressions_by_mode_and_producer;
};

struct BaselineDiff {
  std::string baseline_path;
  std::vector<const Record*> new_failures; // failing now, not failing (or absent) before
  std::vector<const Record*> fixed;        // passing now, failing before
  std::vector<const Record*> persisting;   // failing in both
  std::vector<std::pair<const Record*, std::string>> changed_messages; // same failure, new text
  std::vector<std::string> missing;     // cells the baseline had and this run has not
  std::vector<Record> baseline_records; // owned, so pointers into it stay valid
};

struct ResultsModel {
  // Cell pairs and diffs point into `records`: a copy would leave them pointing at the original.
  ResultsModel() = default;
  ResultsModel(const ResultsModel&) = delete;
  ResultsModel& operator=(const ResultsModel&) = delete;
  ResultsModel(ResultsModel&&) = default;
  ResultsModel& operator=(ResultsModel&&) = default;

  Json header; // results.json without "records"
  std::vector<Record> records;
  std::vector<EnvInfo> envs; // in torch version order
  std::vector<std::string> modes;
  std::vector<std::string> cases; // sorted
  std::map<std::string, std::string> case_notes;
  std::vector<VersionChange> changes;
  std::optional<BaselineDiff> diff;

  const Record* find(const std::string& case_name, const std::string& producer,
                     const std::string& consumer, LoaderMode mode) const;
  std::map<Outcome, size_t> outcome_counts() const;
  // Whether `consumer` loads `producer`'s files in this run: always, unless the matrix paired
  // envs "consecutive"ly (the header's "loads").
  bool loads(const std::string& producer, const std::string& consumer) const;

private:
  std::map<std::string, size_t> index_;
  friend ResultsModel build_results_model(Json, std::vector<Record>,
                                          const std::vector<std::pair<std::string, std::string>>&);
};

// `pairs` are extra (from, to) env names to compare besides each adjacent pair in version
// order (--from/--to). Throws FatalError naming an unknown env.
ResultsModel build_results_model(Json header, std::vector<Record> records,
                                 const std::vector<std::pair<std::string, std::string>>& pairs);

// Fills model.diff against an earlier results.json.
void attach_baseline(ResultsModel& model, const std::string& baseline_path,
                     std::vector<Record> baseline_records);

// The Python a user pastes to allowlist `globals` (import lines, then the call).
// `numpy`: the env's numpy version, which decides how a numpy.core global is allowlisted
// (records/portable_fix.h, numpy2_home); "" for none known.
std::string allowlist_snippet(const std::vector<std::string>& globals, std::string_view numpy = {});

} // namespace loadmatrix
