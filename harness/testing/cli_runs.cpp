#include "testing/cli_runs.h"

#include "cli/resources.h"

namespace loadmatrix::test_support {

ProcessResult run_loadmatrix(const std::vector<std::string>& args, std::chrono::minutes timeout) {
  ProcessSpec spec;
  spec.argv = {LOADMATRIX_CLI};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = timeout;
  spec.output_limit = 64 << 20;
  SystemProcessRunner runner;
  return runner.run(spec);
}

ProcessResult validate_against_schema(const std::string& schema,
                                      const std::vector<std::filesystem::path>& files) {
  const std::filesystem::path source = resources().home;
  ProcessSpec spec;
  spec.argv = {(source / "scripts" / "validate-json").string(),
               (source / "reports" / "schemas" / (schema + ".schema.json")).string()};
  for (const auto& file : files) {
    spec.argv.push_back(file.string());
  }
  spec.timeout = std::chrono::minutes(5);
  SystemProcessRunner runner;
  return runner.run(spec);
}

std::map<std::string, Json> records_by_key(const std::filesystem::path& results) {
  Json document = read_json_file(results).value_or_throw();
  std::map<std::string, Json> by_key;
  for (const auto& record : document.at("records")) {
    by_key[record.at("case").get<std::string>() + "|" + record.at("producer").get<std::string>() +
           "|" + record.at("consumer").get<std::string>() + "|" +
           record.at("mode").get<std::string>()] = record;
  }
  return by_key;
}

} // namespace loadmatrix::test_support
