// How a pickle's global is spelled for the torch versions loadmatrix predicts: protocols 0-2
// write Python 2 names (`__builtin__.set`), which Python 3's unpickler maps before looking them
// up and which torch 2.x's weights-only allowlist checks after mapping, while torch 1.x compares
// the name as written.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace loadmatrix {

struct GlobalName {
  std::string name;   // module.qualname, Python 3 spelling: "builtins.set"
  std::string module; // Python 3 spelling: "builtins"
  std::string raw;    // as written: "__builtin__.set"
};

// The subset of Python's _compat_pickle.NAME_MAPPING / IMPORT_MAPPING that checkpoints reach.
GlobalName global_name(std::string_view written_module, std::string_view written_name);

// EXT1/EXT2/EXT4's global: a code in copyreg's extension registry, not a name.
// Named "copyreg.extension_registry[CODE]" in every spelling.
GlobalName extension_global_name(uint64_t code);

} // namespace loadmatrix
