#include "pickle/global_name.h"

#include <fmt/core.h>
#include <map>

namespace loadmatrix {

GlobalName global_name(std::string_view written_module, std::string_view written_name) {
  static const std::map<std::string, std::string, std::less<>> modules = {
      {"__builtin__", "builtins"},
      {"copy_reg", "copyreg"},
      {"exceptions", "builtins"},
      {"cPickle", "pickle"},
      {"UserDict", "collections"}};
  std::string module(written_module);
  std::string name(written_name);
  if (auto it = modules.find(module); it != modules.end()) {
    module = it->second;
  }
  if (module == "builtins" && name == "unicode") {
    name = "str";
  } else if (module == "builtins" && name == "xrange") {
    name = "range";
  }
  std::string raw;
  raw.reserve(written_module.size() + 1 + written_name.size());
  raw.append(written_module).append(".").append(written_name);
  return {module + "." + name, module, std::move(raw)};
}

GlobalName extension_global_name(uint64_t code) {
  std::string name = fmt::format("copyreg.extension_registry[{}]", code);
  return {name, "copyreg", name};
}

} // namespace loadmatrix
