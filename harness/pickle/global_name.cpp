#include "pickle/global_name.h"

#include <fmt/core.h>
#include <map>
#include <utility>

namespace loadmatrix {

GlobalName global_name(std::string_view written_module, std::string_view written_name) {
  static const std::map<std::string, std::string, std::less<>> modules = {
      {"__builtin__", "builtins"},
      {"copy_reg", "copyreg"},
      {"exceptions", "builtins"},
      {"cPickle", "pickle"},
      {"UserDict", "collections"}};
  // Whole (module, name) pairs first, as Python 3's unpickler does (Lib/_compat_pickle.py,
  // NAME_MAPPING): a protocol-2 pickle of defaultdict(int) written by Python 2 code, or by torch's
  // own copy of those names, says __builtin__.long, which torch 2.6 loads as builtins.int.
  static const std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>,
                        std::less<>>
      names = {{{"__builtin__", "xrange"}, {"builtins", "range"}},
               {{"__builtin__", "reduce"}, {"functools", "reduce"}},
               {{"__builtin__", "intern"}, {"sys", "intern"}},
               {{"__builtin__", "unichr"}, {"builtins", "chr"}},
               {{"__builtin__", "unicode"}, {"builtins", "str"}},
               {{"__builtin__", "long"}, {"builtins", "int"}},
               {{"__builtin__", "basestring"}, {"builtins", "str"}},
               {{"__builtin__", "raw_input"}, {"builtins", "input"}},
               {{"itertools", "izip"}, {"builtins", "zip"}},
               {{"itertools", "imap"}, {"builtins", "map"}},
               {{"itertools", "ifilter"}, {"builtins", "filter"}},
               {{"itertools", "ifilterfalse"}, {"itertools", "filterfalse"}},
               {{"itertools", "izip_longest"}, {"itertools", "zip_longest"}},
               {{"UserDict", "UserDict"}, {"collections", "UserDict"}},
               {{"UserList", "UserList"}, {"collections", "UserList"}},
               {{"UserString", "UserString"}, {"collections", "UserString"}},
               {{"exceptions", "StandardError"}, {"builtins", "Exception"}}};
  std::string module(written_module);
  std::string name(written_name);
  if (auto pair = names.find(std::pair<std::string, std::string>(module, name));
      pair != names.end()) {
    module = pair->second.first;
    name = pair->second.second;
  } else if (auto it = modules.find(module); it != modules.end()) {
    module = it->second;
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
