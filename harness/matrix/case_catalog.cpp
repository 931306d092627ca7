#include "matrix/case_catalog.h"

#include "util/error.h"
#include "util/json_file.h"
#include "util/utf8.h"

#include <algorithm>
#include <fmt/core.h>
#include <fnmatch.h>
#include <map>

namespace loadmatrix {

std::string first_docstring_line(const std::string& source) {
  for (const char* quote : {"\"\"\"", "'''"}) {
    auto start = source.find(quote);
    if (start == std::string::npos) {
      continue;
    }
    start += 3;
    auto end = source.find_first_of("\n", start);
    auto close = source.find(quote, start);
    end = std::min(end, close);
    std::string line = source.substr(start, end == std::string::npos ? end : end - start);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) {
      line.pop_back();
    }
    return line;
  }
  return "";
}

namespace {

void add_dir(const std::filesystem::path& dir, CaseKind kind, const std::filesystem::path& root,
             const std::vector<std::string>& globs, std::map<std::string, CaseSpec>& found) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    auto name = entry.path().filename().string();
    if (entry.is_regular_file() && entry.path().extension() == ".py" && !name.starts_with("_")) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    // The name is shown and keyed on (results.json, reports): valid UTF-8 on one line. The
    // file keeps its exact bytes for the worker to open.
    std::string name = printable_name(file.stem().string());
    bool selected = globs.empty();
    for (const auto& glob : globs) {
      selected = selected || ::fnmatch(glob.c_str(), name.c_str(), 0) == 0;
    }
    if (!selected) {
      continue;
    }
    if (auto it = found.find(name); it != found.end()) {
      throw FatalError(fmt::format("{}: case '{}' is already defined by {}", file.string(), name,
                                   it->second.file.string()));
    }
    // An unreadable recipe is still a case: saving it fails in the worker, cell by cell.
    auto source = read_text_file(file);
    std::string note = source ? valid_utf8(first_docstring_line(*source))
                              : "(unreadable: " + valid_utf8(source.error().message) + ")";
    found[name] = CaseSpec{name, kind, file, root, std::move(note)};
  }
}

} // namespace

std::vector<CaseSpec> discover_cases(const std::vector<std::filesystem::path>& roots,
                                     const std::vector<std::string>& name_globs) {
  std::map<std::string, CaseSpec> found;
  for (const auto& root : roots) {
    if (!std::filesystem::is_directory(root)) {
      throw FatalError(fmt::format("{}: not a directory of cases", root.string()));
    }
    bool structured = std::filesystem::is_directory(root / "recipes") ||
                      std::filesystem::is_directory(root / "scenarios");
    if (!structured) {
      add_dir(root, CaseKind::recipe, root, name_globs, found);
      continue;
    }
    if (std::filesystem::is_directory(root / "recipes")) {
      add_dir(root / "recipes", CaseKind::recipe, root, name_globs, found);
    }
    if (std::filesystem::is_directory(root / "scenarios")) {
      add_dir(root / "scenarios", CaseKind::scenario, root, name_globs, found);
    }
  }
  std::vector<CaseSpec> cases;
  for (auto& [name, spec] : found) {
    cases.push_back(std::move(spec));
  }
  return cases;
}

} // namespace loadmatrix
