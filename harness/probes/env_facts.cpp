#include "probes/env_facts.h"

#include "util/json_file.h"

#include <fmt/core.h>

namespace loadmatrix {

Json FactsFile::to_json() const {
  Json list = Json::array();
  for (const auto& env : envs) {
    Json globals = Json::object();
    for (const auto& [key, answer] : env.globals.by_key) {
      globals[key] = {{"present", answer.present},
                      {"error", answer.error},
                      {"weights_only", answer.weights_only}};
    }
    list.push_back({{"manifest", env.manifest.to_json()}, {"globals", std::move(globals)}});
  }
  return {{"schema", kFactsSchema}, {"created", created}, {"envs", std::move(list)}};
}

const EnvFacts* FactsFile::find(const EnvSpec& spec) const {
  Json identity = spec.identity();
  for (const auto& env : envs) {
    if (env.manifest.name == spec.name && env.manifest.spec == identity) {
      return &env;
    }
  }
  return nullptr;
}

namespace {

Expected<ResolvedGlobals> read_globals(const Json& globals, const std::string& origin) {
  ResolvedGlobals out;
  if (!globals.is_object()) {
    return Error{fmt::format("{}: expected an object of answers by key", origin)};
  }
  for (const auto& [key, value] : globals.items()) {
    std::string where = fmt::format("{}[{}]", origin, Json(key).dump());
    if (!value.is_object() || !value.contains("present") || !value["present"].is_boolean()) {
      return Error{fmt::format("{}: expected {{\"present\": true|false, ...}}", where)};
    }
    for (const char* field : {"error", "weights_only"}) {
      if (value.contains(field) && !value[field].is_string()) {
        return Error{fmt::format("{}.{}: expected a string", where, field)};
      }
    }
    out.by_key[key] = {value["present"].get<bool>(), value.value("error", ""),
                       value.value("weights_only", "")};
  }
  return out;
}

} // namespace

Expected<FactsFile> read_facts_file(const std::filesystem::path& file) {
  const std::string name = file.string();
  auto document = read_json_file(file);
  if (!document) {
    return Error{fmt::format("facts {}: {}", name, document.error().message)};
  }
  if (!document->is_object()) {
    return Error{fmt::format("facts {}: expected a JSON object", name)};
  }
  if (document->value("schema", Json()) != Json(kFactsSchema)) {
    return Error{fmt::format("facts {}: schema: expected \"{}\", got {}", name, kFactsSchema,
                             document->contains("schema") ? (*document)["schema"].dump() : "none")};
  }
  FactsFile facts;
  if (!(*document)["created"].is_string()) {
    return Error{fmt::format("facts {}: created: expected a string", name)};
  }
  facts.created = (*document)["created"].get<std::string>();
  const Json& envs = (*document)["envs"];
  if (!envs.is_array()) {
    return Error{fmt::format("facts {}: envs: expected a list", name)};
  }
  for (size_t i = 0; i < envs.size(); ++i) {
    std::string origin = fmt::format("facts {}: envs[{}]", name, i);
    if (!envs[i].is_object()) {
      return Error{fmt::format("{}: expected an object", origin)};
    }
    auto manifest = Manifest::from_json(envs[i].value("manifest", Json()), origin + ".manifest");
    if (!manifest) {
      return manifest.error();
    }
    if (manifest->fingerprint.version < kFingerprintVersion) {
      // An older fingerprint.py measured less than predictions now read: export it again.
      return Error{fmt::format("{}.manifest.fingerprint: measured by fingerprint.py version {}, "
                               "older than this loadmatrix's {} (loadmatrix facts export again)",
                               origin, manifest->fingerprint.version, kFingerprintVersion)};
    }
    auto globals = read_globals(envs[i].value("globals", Json::object()), origin + ".globals");
    if (!globals) {
      return globals.error();
    }
    for (const auto& seen : facts.envs) {
      if (seen.manifest.name == manifest->name) {
        return Error{fmt::format("{}: a second env named {}", origin, manifest->name)};
      }
    }
    facts.envs.push_back({std::move(manifest).value(), std::move(globals).value()});
  }
  return facts;
}

Environment environment_from_facts(const EnvSpec& spec, const EnvFacts& facts,
                                   const std::filesystem::path& source,
                                   const ShippedFiles& shipped) {
  Environment env{spec,    facts.manifest, Sandbox::host(shipped.sandbox_init), python_for(spec),
                  shipped, source};
  return env;
}

ResolvedGlobals facts_answers(const ResolvedGlobals& exported,
                              const std::vector<std::filesystem::path>& python_path) {
  ResolvedGlobals out;
  for (const auto& [key, answer] : exported.by_key) {
    // "zip|2|module|qualname": the module is the third field; sparse keys name none.
    size_t first = key.find('|');
    size_t second = first == std::string::npos ? first : key.find('|', first + 1);
    size_t third = second == std::string::npos ? second : key.find('|', second + 1);
    if (!key.starts_with("sparse|") && third != std::string::npos &&
        provided_by_python_path(key.substr(second + 1, third - second - 1), python_path)) {
      continue;
    }
    out.by_key.emplace(key, answer);
  }
  return out;
}

} // namespace loadmatrix
