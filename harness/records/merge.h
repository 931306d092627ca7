// Combines the results.json of shards (or any runs over disjoint cells) into one.
#pragma once

#include "records/record.h"

#include <filesystem>
#include <string>
#include <vector>

namespace loadmatrix {

struct MergedResults {
  Json header;                      // envs, cases and modes of all inputs
  std::vector<Record> records;      // sorted by key
  std::vector<std::string> missing; // cells the merged matrix implies and no input has
};

// Throws FatalError naming both files for a cell two inputs report differently, or for an env
// two inputs describe with different versions.
MergedResults merge_results(const std::vector<std::filesystem::path>& inputs);

// `loadmatrix merge` as a job: merges `inputs` and writes OUT/results.json (with
// "missing_cells") before anything judges the merge, so a missing shard costs no other cell.
// The merged results as written are returned for publishing.
struct MergeJobResult {
  size_t inputs = 0;
  std::vector<std::string> missing;
  Json header;
  std::vector<Record> records;
};
MergeJobResult merge_job(const std::vector<std::filesystem::path>& inputs,
                         const std::filesystem::path& out_dir);

// Every cell a results header implies: each recipe × producer × consumer × mode, and each
// scenario once per env.
std::vector<std::string> expected_cell_keys(const Json& header);

} // namespace loadmatrix
