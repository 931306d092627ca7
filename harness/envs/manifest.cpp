#include "envs/manifest.h"

#include <ctime>
#include <fmt/core.h>
#include <sstream>

namespace loadmatrix {

namespace {

bool flag(const Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

std::vector<std::string> strings(const Json& object, const char* key) {
  std::vector<std::string> result;
  auto it = object.find(key);
  if (it != object.end() && it->is_array()) {
    for (const auto& item : *it) {
      if (item.is_string()) {
        result.push_back(item.get<std::string>());
      }
    }
  }
  return result;
}

} // namespace

Expected<Fingerprint> Fingerprint::from_json(const Json& report, const std::string& origin) {
  if (!report.is_object()) {
    return Error{fmt::format("{}: fingerprint is not a JSON object", origin)};
  }
  if (auto error = optional_string(report, "error")) {
    std::string python = optional_string(report, "python_executable").value_or("python");
    return Error{fmt::format("{}: {} {}", origin, python, *error)};
  }
  Fingerprint fp;
  auto torch = optional_string(report, "torch");
  auto python = optional_string(report, "python");
  if (!torch || !python) {
    return Error{fmt::format("{}: fingerprint lacks the torch or python version", origin)};
  }
  fp.torch = *torch;
  fp.python = *python;
  fp.numpy = optional_string(report, "numpy");
  fp.has_weights_only = flag(report, "has_weights_only");
  if (auto it = report.find("weights_only_default"); it != report.end() && it->is_boolean()) {
    fp.weights_only_default = it->get<bool>();
  }
  fp.has_add_safe_globals = flag(report, "has_add_safe_globals");
  fp.has_safe_globals = flag(report, "has_safe_globals");
  fp.has_get_unsafe_globals_in_checkpoint = flag(report, "has_get_unsafe_globals_in_checkpoint");
  fp.has_mmap = flag(report, "has_mmap");
  fp.cxx = optional_string(report, "cxx");
  fp.libtorch_cmake_dirs = strings(report, "libtorch_cmake_dirs");
  if (auto it = report.find("allowlist"); it != report.end() && it->is_array()) {
    fp.allowlist = strings(report, "allowlist");
  }
  fp.blocklisted_modules = strings(report, "blocklisted_modules");
  if (auto it = report.find("fingerprint_version"); it != report.end() && it->is_number_integer()) {
    fp.version = it->get<int>();
  }
  if (auto it = report.find("weights_only_rules"); it != report.end() && it->is_object()) {
    UnpicklerRules rules;
    for (auto& name : strings(*it, "opcodes")) {
      rules.opcodes.insert(std::move(name));
    }
    rules.build_allowlisted_class = flag(*it, "build_allowlisted_class");
    rules.newobj_allowlisted_class = flag(*it, "newobj_allowlisted_class");
    rules.setitems_allowlisted_dict_subclass = flag(*it, "setitems_allowlisted_dict_subclass");
    rules.append_allowlisted_list_subclass = flag(*it, "append_allowlisted_list_subclass");
    rules.maps_python2_names = flag(*it, "maps_python2_names");
    std::string torchscript = optional_string(*it, "torchscript_weights_only").value_or("");
    rules.torchscript_loads = torchscript == "loads";
    if (!rules.torchscript_loads) {
      rules.torchscript_refusal = torchscript;
    }
    fp.rules = std::move(rules);
  }
  if (auto it = report.find("loader_calls"); it != report.end()) {
    auto facts = LoaderFacts::from_json(*it);
    if (!facts) {
      return Error{fmt::format("{}: {}", origin, facts.error().message)};
    }
    fp.loader_calls = std::move(*facts);
  }
  fp.torch_file = optional_string(report, "torch_file").value_or("");
  fp.raw = report;
  return fp;
}

Json Manifest::to_json() const {
  Json document = {{"schema", kManifestSchema},   {"name", name},
                   {"kind", env_kind_name(kind)}, {"spec", spec},
                   {"created", created},          {"build_seconds", build_seconds},
                   {"packages", packages},        {"fingerprint", fingerprint.raw}};
  if (torch_mtime) {
    document["torch_mtime"] = *torch_mtime;
  }
  if (image_id) {
    document["image_id"] = *image_id;
  }
  if (image_source_created) {
    document["image_source_created"] = *image_source_created;
  }
  if (uv) {
    document["uv"] = *uv;
  }
  return document;
}

Expected<Manifest> Manifest::from_json(const Json& document, const std::string& origin) {
  if (!document.is_object()) {
    return Error{fmt::format("{}: expected a JSON object", origin)};
  }
  if (!document.contains("schema") || !document["schema"].is_string() ||
      document["schema"].get<std::string>() != kManifestSchema) {
    return Error{fmt::format("{}: schema: expected '{}', got {}", origin, kManifestSchema,
                             document.contains("schema") ? document["schema"].dump() : "none")};
  }
  Manifest manifest;
  try {
    manifest.name = document.at("name").get<std::string>();
    std::string kind = document.at("kind").get<std::string>();
    manifest.kind = kind == "local"       ? EnvKind::local
                    : kind == "container" ? EnvKind::container
                    : kind == "pip"       ? EnvKind::pip
                                          : EnvKind::debian;
    manifest.spec = document.at("spec");
    manifest.created = document.at("created").get<std::string>();
    manifest.build_seconds = document.value("build_seconds", 0.0);
    manifest.packages = document.value("packages", std::map<std::string, std::string>{});
    if (document.contains("torch_mtime")) {
      manifest.torch_mtime = document.at("torch_mtime").get<long long>();
    }
    if (document.contains("image_id")) {
      manifest.image_id = document.at("image_id").get<std::string>();
    }
    if (document.contains("image_source_created")) {
      manifest.image_source_created = document.at("image_source_created").get<std::string>();
    }
    if (document.contains("uv")) {
      manifest.uv = document.at("uv").get<std::string>();
    }
  } catch (const Json::exception& e) {
    return Error{fmt::format("{}: {}", origin, e.what())};
  }
  auto fingerprint = Fingerprint::from_json(document.value("fingerprint", Json()), origin);
  if (!fingerprint) {
    return fingerprint.error();
  }
  manifest.fingerprint = std::move(fingerprint).value();
  return manifest;
}

std::string utc_now_iso8601() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

} // namespace loadmatrix
