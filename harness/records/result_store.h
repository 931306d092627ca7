// Where a run's records go, as they finish. Each record is appended (and fsynced) to
// DIR/records.jsonl, so a killed run keeps every finished cell; DIR/results.json, the
// documented output, is rewritten atomically from those records now and then and at the end.
// --resume reads the journal back (dropping a torn last line) and skips what it holds.
#pragma once

#include "records/record.h"
#include "util/error.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <vector>

namespace loadmatrix {

inline constexpr const char* kResultsSchema = "loadmatrix.results/1";

// Whether a store starts afresh (records.jsonl truncated) or keeps the cells an interrupted run
// recorded in it (its torn last line dropped).
enum class RunStart { kFresh, kResume };

class ResultStore {
public:
  // `header` holds everything of results.json but "records" (schema, envs, cases, run).
  static Expected<std::unique_ptr<ResultStore>> open(const std::filesystem::path& dir,
                                                     RunStart start, Json header);
  ~ResultStore();

  bool has(const std::string& key) const;
  size_t size() const;
  Expected<void> append(const Record& record);
  // results.json with the records sorted by key, so equal results give equal files.
  Expected<void> write_results(const Json& header_updates = Json::object());
  std::vector<Record> records() const;
  size_t resumed() const { return resumed_; }

private:
  ResultStore(std::filesystem::path dir, Json header, int journal)
      : dir_(std::move(dir)), header_(std::move(header)), journal_(journal) {}

  std::filesystem::path dir_;
  Json header_;
  int journal_;
  size_t resumed_ = 0;
  mutable std::mutex mutex_;
  std::map<std::string, Record> records_;
  std::chrono::steady_clock::time_point last_snapshot_{};
};

// Reads a results.json (any run's), checking its schema.
Expected<std::pair<Json, std::vector<Record>>> read_results(const std::filesystem::path& path);

} // namespace loadmatrix
