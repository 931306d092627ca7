// One fix for every torch a project supports: a snippet that loads its checkpoints on all of
// them, and whether it did. Reports gave a verified allowlist per env; a project that supports
// torch 1.7 to 2.14 needs one piece of code: numpy 1's and 2's spellings of the same class
// (`numpy.core...` vs `numpy._core...`, given as (object, name) pairs where the object lives
// under the other name), dtype classes only numpy 2 has, and torch versions without
// torch.serialization.add_safe_globals (before 2.4: 1.7, 1.13), where only the full unpickler
// reads these classes, which the snippet says is for trusted files only.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadmatrix {

// Where numpy `numpy_version` serves a pickle's `numpy.core.X` global from: numpy 2 moved it to
// numpy._core ("numpy._core.X"), whose object registers under that name only, so an allowlist
// for that env names it as the pair (numpy._core.X, "numpy.core.X"), which torch 2.6+ accepts
// (measured in 2.6 with numpy 2.4.6: the plain object still refuses the file). nullopt under
// numpy 1, without numpy, or for a global outside numpy.core.
std::optional<std::string> numpy2_home(std::string_view global, std::string_view numpy_version);

struct PortableSnippet {
  // The Python source defining load_checkpoint(path), with `globals` allowlisted; empty when
  // no safe snippet exists.
  std::string source;
  std::string why_not; // when empty source: the global no allowlist may name, and why
};

// `globals`: every global any env refused in the file, as torch names them. A global that can
// run code or reach the system is never allowlisted (records/classify.h): then no snippet.
PortableSnippet portable_snippet(const std::vector<std::string>& globals);

// A record's check of the snippet on its consumer (allowlist-mode records of files some env
// blocked): what was allowlisted and whether load_checkpoint returned.
struct PortableCheck {
  std::vector<std::string> globals;
  bool verified = false;
  std::string detail; // what the load raised, when it did not return
};

} // namespace loadmatrix
