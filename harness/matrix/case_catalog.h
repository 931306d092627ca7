// The checkpoint cases a run covers: recipes (build an object; the producer env saves it) and
// scenarios (a real load path run end to end in one env). Found in case roots: the built-in
// cases/ and any --cases DIR, each holding recipes/ and scenarios/ (or, flat, only recipes).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace loadmatrix {

enum class CaseKind { recipe, scenario };

struct CaseSpec {
  std::string name; // the file's stem; unique across roots
  CaseKind kind = CaseKind::recipe;
  std::filesystem::path file;
  std::filesystem::path root; // the case root it came from
  std::string note;           // first line of the module docstring
};

// Throws FatalError naming a missing root or two files that would share a case name.
// `name_globs` filter by case name (any may match); empty keeps every case.
std::vector<CaseSpec> discover_cases(const std::vector<std::filesystem::path>& roots,
                                     const std::vector<std::string>& name_globs);

std::string first_docstring_line(const std::string& source);

} // namespace loadmatrix
