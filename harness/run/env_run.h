// One env's side of a run: it saves every recipe as a producer, loads every producer's file
// under every loader mode as a consumer (its C++ modes batched through its C++ probe), runs
// every scenario, and checks the portable fix on the files some env blocked. Each cell is
// recorded as it finishes; a fault while handling one cell is that cell's `error`.
#pragma once

#include "run/matrix_run.h"
#include "session/load_session.h"

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace loadmatrix {

class EnvRun {
public:
  // (case, producer) -> every global any env refused in that file.
  using BlockedFiles = std::map<std::pair<std::string, std::string>, std::vector<std::string>>;

  // Keeps every argument by reference: each must outlive the EnvRun (run_matrix owns them all
  // for the run's length). The worker starts with the first request, not here.
  EnvRun(const Environment& env, const RunPlan& plan, const RunOptions& options, ResultStore& store,
         ProcessRunner& runner, RunReport& report, std::mutex& report_mutex,
         const ProgressLog& log);

  void save_all();
  void load_all();
  // The portable snippet (records/portable_fix.h) for each file some env blocked, run here on
  // that file, its outcome kept on this env's allowlist-mode record of the file. `records`: the
  // run's, by key.
  void check_portable(const BlockedFiles& blocked, const std::map<std::string, Record>& records);

private:
  struct Layout {
    SandboxLayout layout;
    SandboxMount checkpoints; // the checkpoints' root, inside
    SandboxMount scratch;
  };
  static Layout run_layout(const Environment& env, const RunPlan& plan, const RunOptions& options);
  EnvRun(const Environment& env, const RunPlan& plan, const RunOptions& options, ResultStore& store,
         ProcessRunner& runner, RunReport& report, std::mutex& report_mutex, const ProgressLog& log,
         Layout layout);

  using CppCells = std::map<LoaderMode, std::vector<std::pair<const CaseSpec*, std::string>>>;

  // A producer's file of a case, as the host and as the sandbox name it.
  std::filesystem::path host_file(const std::string& producer, const std::string& case_name) const;
  std::filesystem::path expectation_file(const std::string& producer,
                                         const std::string& case_name) const;
  std::string inside_file(const std::string& producer, const std::string& case_name) const;

  Record base_record(const std::string& case_name, const std::string& producer,
                     LoaderMode mode) const;
  void commit(Record record);
  void place_blocked_globals(Record& record);
  bool wanted(LoaderMode mode) const;

  void load_file(const CaseSpec& spec, const std::string& producer, CppCells& cpp_cells);
  std::optional<Record> load_cell(Record record, const CaseSpec& spec, const std::string& producer,
                                  const LoaderModeInfo& info, const Expected<Json>& expectation,
                                  CppCells& cpp_cells);
  Record allowlist_record(Record record, const std::string& inside, const Json& described);
  void run_cpp_cells(LoaderMode mode,
                     const std::vector<std::pair<const CaseSpec*, std::string>>& cells);

  // Scenarios (env_run_scenario.cpp).
  Json scenario_request(const CaseSpec& spec) const;
  void run_scenario(const CaseSpec& spec);
  std::optional<CallSiteRef> call_site_of(const Json& facts) const;
  void prove_code_fixes(const CaseSpec& spec, Record& record);

  const Environment& env_;
  const RunPlan& plan_;
  const RunOptions& options_;
  ResultStore& store_;
  ProcessRunner& runner_;
  RunReport& report_;
  std::mutex& report_mutex_;
  const ProgressLog& log_;
  std::filesystem::path checkpoints_root_;
  LoadSession session_;
  SandboxMount checkpoints_; // checkpoints_root_ inside
  SandboxMount scratch_;
  std::map<std::string, std::map<std::string, std::string>> object_paths_; // by file
};

} // namespace loadmatrix
