// EnvRun's loads of the producers' files: each Python loader mode in the env's worker, the C++
// modes batched through its C++ probe.
#include "run/cell_record.h"
#include "run/env_run.h"
#include "util/text.h"

#include <fmt/core.h>

namespace loadmatrix {

namespace {

void apply(Record& record, const Classification& c, const Json& facts) {
  apply_classification(record, c);
  record.duration_ms = facts.value("duration_ms", 0LL);
}

} // namespace

void EnvRun::load_file(const CaseSpec& spec, const std::string& producer, CppCells& cpp_cells) {
  auto expectation = read_json_file(expectation_file(producer, spec.name));
  for (const auto& info : loader_modes()) {
    Record record = base_record(spec.name, producer, info.mode);
    if (!wanted(info.mode) || store_.has(record.key())) {
      continue;
    }
    std::optional<Record> done;
    try {
      done = load_cell(std::move(record), spec, producer, info, expectation, cpp_cells);
    } catch (const std::exception& e) {
      done = internal_error_record(base_record(spec.name, producer, info.mode), e);
    }
    if (done) {
      commit(std::move(*done));
    }
  }
}

// One Python-mode cell's record, or nothing when the cell joins its env's C++ probe batch.
std::optional<Record> EnvRun::load_cell(Record record, const CaseSpec& spec,
                                        const std::string& producer, const LoaderModeInfo& info,
                                        const Expected<Json>& expectation, CppCells& cpp_cells) {
  Json save = expectation ? expectation->value("save", Json::object()) : Json::object();
  bool saved = save.value("status", "") == "returned";
  if (!expectation) {
    record.outcome = Outcome::skipped;
    record.detail = fmt::format("no checkpoint from {}: {}", producer, expectation.error().message);
    return record;
  }
  if (!saved) {
    record.outcome = Outcome::skipped;
    Classification failure = classify(save, nullptr);
    record.detail = fmt::format("{} could not save it: {} {}", producer, failure.error_type,
                                failure.message.empty() ? failure.detail : failure.message);
    return record;
  }
  if (info.cpp) {
    if (info.mode == LoaderMode::cpp_jit && save.value("format", "") != "torchscript") {
      record.outcome = Outcome::skipped;
      record.detail = "torch::jit::load reads TorchScript archives; this is a " +
                      save.value("format", std::string("?")) + " checkpoint";
      return record;
    }
    cpp_cells[info.mode].emplace_back(&spec, producer);
    return std::nullopt;
  }
  const Json& described = save.at("description");
  std::string inside = inside_file(producer, spec.name);
  if (info.mode == LoaderMode::allowlist) {
    return allowlist_record(record, inside, described);
  }
  Json facts = session_.load(inside, info.mode);
  Classification c = classify(facts, &described);
  apply(record, c, facts);
  if (c.outcome == Outcome::blocked) {
    append_unique(record.blocked_globals, session_.search(inside).blocked);
  }
  return record;
}

Record EnvRun::allowlist_record(Record record, const std::string& inside, const Json& described) {
  if (!env_.fingerprint().has_add_safe_globals) {
    record.outcome = Outcome::unsupported;
    record.detail = "torch.serialization.add_safe_globals does not exist in this version";
    return record;
  }
  const AllowlistSearch& found = session_.search(inside);
  Classification last = classify(found.last_facts, &described);
  apply(record, last, found.last_facts);
  record.blocked_globals = found.blocked;
  record.reason = found.reason;
  if (last.outcome == Outcome::pass || last.outcome == Outcome::mismatch) {
    record.allowlist = found.allowlist;
  } else if (!found.stop.empty()) {
    record.detail = "no safe allowlist: " + found.stop;
  }
  return record;
}

void EnvRun::run_cpp_cells(LoaderMode mode,
                           const std::vector<std::pair<const CaseSpec*, std::string>>& cells) {
  auto probe = plan_.cpp_probes.find(env_.spec.name);
  std::vector<std::filesystem::path> files;
  for (const auto& [spec, producer] : cells) {
    files.push_back(host_file(producer, spec->name));
  }
  std::vector<Json> facts;
  if (probe != plan_.cpp_probes.end()) {
    try {
      facts = run_cpp_probe_batch(env_, probe->second, runner_,
                                  mode == LoaderMode::cpp_jit ? "jit" : "pickle", checkpoints_root_,
                                  files, options_.cell_timeout);
    } catch (const std::exception& e) {
      facts.assign(files.size(), internal_error_facts(e));
    }
  }
  for (size_t i = 0; i < cells.size(); ++i) {
    Record record = base_record(cells[i].first->name, cells[i].second, mode);
    if (facts.empty()) {
      record.outcome = Outcome::unsupported;
      record.detail = "no C++ probe could be built in this env (no libtorch)";
    } else {
      // The C++ side describes content in its own terms, so only load/no-load is compared.
      try {
        apply(record, classify(facts[i], nullptr), facts[i]);
      } catch (const std::exception& e) {
        record = internal_error_record(std::move(record), e);
      }
    }
    commit(record);
  }
}

} // namespace loadmatrix
