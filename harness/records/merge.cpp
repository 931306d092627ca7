#include "records/merge.h"

#include "matrix/loader_mode.h"
#include "records/result_store.h"

#include <algorithm>
#include <fmt/core.h>
#include <map>
#include <set>

namespace loadmatrix {

namespace {

// What must agree between two reports of one cell; durations and message wording may not.
bool same_result(const Record& a, const Record& b) {
  return a.outcome == b.outcome && a.blocked_globals == b.blocked_globals &&
         a.allowlist == b.allowlist && a.reason == b.reason;
}

void merge_named(Json& into, const Json& from, const std::string& field,
                 const std::filesystem::path& origin, const std::vector<std::string>& must_match) {
  for (const auto& item : from.value(field, Json::array())) {
    std::string name = item.value("name", "");
    auto it = std::find_if(into.begin(), into.end(), [&](const Json& existing) {
      return existing.value("name", "") == name;
    });
    if (it == into.end()) {
      into.push_back(item);
      continue;
    }
    for (const auto& key : must_match) {
      if (it->value(key, Json()) != item.value(key, Json())) {
        throw FatalError(fmt::format(
            "{}: {} '{}' has {} {} here but {} in another input", origin.string(), field, name, key,
            item.value(key, Json()).dump(), it->value(key, Json()).dump()));
      }
    }
  }
}

} // namespace

std::vector<std::string> expected_cell_keys(const Json& header) {
  std::vector<std::string> envs;
  for (const auto& env : header.value("envs", Json::array())) {
    envs.push_back(env.value("name", ""));
  }
  std::vector<std::string> keys;
  for (const auto& spec : header.value("cases", Json::array())) {
    std::string name = spec.value("name", "");
    if (spec.value("kind", "") == "scenario") {
      for (const auto& env : envs) {
        keys.push_back(name + "|" + env + "|" + env + "|scenario");
      }
      continue;
    }
    // A matrix with "pairs": "consecutive" says which producers each consumer loads.
    const Json loads = header.value("loads", Json::object());
    for (const auto& producer : envs) {
      for (const auto& consumer : envs) {
        if (loads.contains(consumer) && std::find(loads[consumer].begin(), loads[consumer].end(),
                                                  producer) == loads[consumer].end()) {
          continue;
        }
        for (const auto& mode : header.value("modes", Json::array())) {
          keys.push_back(name + "|" + producer + "|" + consumer + "|" + mode.get<std::string>());
        }
      }
    }
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

MergedResults merge_results(const std::vector<std::filesystem::path>& inputs) {
  if (inputs.empty()) {
    throw FatalError("merge: no results files given");
  }
  MergedResults merged;
  merged.header = {{"schema", kResultsSchema},
                   {"envs", Json::array()},
                   {"cases", Json::array()},
                   {"modes", Json::array()},
                   {"merged_from", Json::array()}};
  std::map<std::string, std::pair<Record, std::filesystem::path>> cells;
  std::set<std::string> modes;
  bool every_pair = false; // an input without "loads" was read
  for (const auto& input : inputs) {
    auto [header, records] = read_results(input).value_or_throw();
    merge_named(merged.header["envs"], header, "envs", input, {"torch", "python", "numpy"});
    merge_named(merged.header["cases"], header, "cases", input, {"kind"});
    for (const auto& mode : header.value("modes", Json::array())) {
      modes.insert(mode.get<std::string>());
    }
    // Which producers each consumer loads: the union of what the inputs declare (a shard of
    // envs A,B declares B loads A; the next, of B,C, that C loads B). An input that pairs every
    // env with every env makes the merge expect every pair.
    if (!header.contains("loads")) {
      every_pair = true;
      merged.header.erase("pairs");
      merged.header.erase("loads");
    } else if (!every_pair) {
      const Json& declared = header["loads"];
      bool well_formed = declared.is_object();
      for (const auto& producers : declared) {
        well_formed = well_formed && producers.is_array() &&
                      std::all_of(producers.begin(), producers.end(),
                                  [](const Json& name) { return name.is_string(); });
      }
      if (!well_formed) {
        throw FatalError(fmt::format("{}: loads: expected an object of consumer -> [producer "
                                     "names]",
                                     input.string()));
      }
      merged.header["pairs"] = header.value("pairs", Json("consecutive"));
      Json& loads = merged.header["loads"];
      for (const auto& [consumer, producers] : header["loads"].items()) {
        if (!loads.contains(consumer)) {
          loads[consumer] = Json::array();
        }
        for (const auto& producer : producers) {
          if (std::find(loads[consumer].begin(), loads[consumer].end(), producer) ==
              loads[consumer].end()) {
            loads[consumer].push_back(producer);
          }
        }
      }
    }
    merged.header["merged_from"].push_back({{"file", input.string()},
                                            {"run", header.value("run", Json::object())},
                                            {"cells", records.size()}});
    for (auto& record : records) {
      auto key = record.key();
      auto it = cells.find(key);
      if (it != cells.end()) {
        if (!same_result(it->second.first, record)) {
          throw FatalError(fmt::format(
              "merge: cell {} is {} in {} but {} in {}", key, outcome_id(it->second.first.outcome),
              it->second.second.string(), outcome_id(record.outcome), input.string()));
        }
        continue;
      }
      cells.emplace(key, std::make_pair(std::move(record), input));
    }
  }
  // Modes in their fixed order, as a run lists them.
  for (const auto& info : loader_modes()) {
    if (modes.contains(info.id)) {
      merged.header["modes"].push_back(info.id);
    }
  }
  for (auto& [key, entry] : cells) {
    merged.records.push_back(std::move(entry.first));
  }
  for (const auto& key : expected_cell_keys(merged.header)) {
    if (!cells.contains(key)) {
      merged.missing.push_back(key);
    }
  }
  return merged;
}

MergeJobResult merge_job(const std::vector<std::filesystem::path>& inputs,
                         const std::filesystem::path& out_dir) {
  MergedResults merged = merge_results(inputs);
  {
    auto store = ResultStore::open(out_dir, RunStart::kFresh, merged.header).value_or_throw();
    for (const auto& record : merged.records) {
      store->append(record).value_or_throw();
    }
    store->write_results({{"missing_cells", merged.missing}}).value_or_throw();
  }
  MergeJobResult result;
  result.inputs = inputs.size();
  result.missing = std::move(merged.missing);
  std::tie(result.header, result.records) = read_results(out_dir / "results.json").value_or_throw();
  return result;
}

} // namespace loadmatrix
