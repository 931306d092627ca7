#include "testing/synthetic_results.h"

#include <fmt/core.h>

namespace loadmatrix::test_support {

Json synthetic_header() {
  return {{"schema", "loadmatrix.results/1"},
          // Deliberately not in version order: the model must sort by torch version.
          {"envs",
           {{{"name", "new"}, {"torch", "2.14.1"}, {"python", "3.14"}, {"kind", "debian"}},
            {{"name", "old"}, {"torch", "1.13.0a0"}, {"python", "3.11"}, {"kind", "local"}},
            {{"name", "mid"}, {"torch", "2.6.0+debian"}, {"python", "3.13"}, {"kind", "debian"}}}},
          {"modes", {"default", "weights_only", "allowlist"}},
          {"cases", Json::array()}};
}

Record synthetic_record(const std::string& case_name, const std::string& producer,
                        const std::string& consumer, const std::string& mode, Outcome outcome,
                        std::vector<std::string> globals) {
  Record record;
  record.case_name = case_name;
  record.producer = producer;
  record.consumer = consumer;
  record.mode = parse_record_mode(mode).value();
  record.outcome = outcome;
  if (outcome == Outcome::blocked) {
    record.blocked_globals = globals;
    record.reason = BlockReason::global_not_allowed;
    record.error_type = "UnpicklingError";
    record.message = "Weights only load failed. Unsupported global: GLOBAL " + globals.front() +
                     " was not an allowed global by default. <&\"'>";
  }
  if (outcome == Outcome::pass && mode == "allowlist") {
    record.allowlist = globals;
  }
  return record;
}

std::vector<Record> synthetic_records(size_t cases, const std::function<bool(size_t)>& blocked) {
  std::vector<Record> records;
  for (size_t i = 0; i < cases; ++i) {
    std::string name = fmt::format("case{:05}", i);
    std::vector<std::string> globals = {fmt::format("pkg.Class{}", i % 7)};
    for (const char* producer : {"old", "mid", "new"}) {
      for (const char* consumer : {"old", "mid", "new"}) {
        bool old_env = std::string(consumer) == "old";
        bool refused = blocked(i) && !old_env;
        records.push_back(synthetic_record(name, producer, consumer, "default",
                                           refused ? Outcome::blocked : Outcome::pass, globals));
        records.push_back(synthetic_record(name, producer, consumer, "weights_only",
                                           blocked(i) ? Outcome::blocked : Outcome::pass, globals));
        records.push_back(synthetic_record(name, producer, consumer, "allowlist",
                                           old_env ? Outcome::unsupported : Outcome::pass,
                                           blocked(i) ? globals : std::vector<std::string>{}));
      }
    }
  }
  return records;
}

} // namespace loadmatrix::test_support
