#include "publish/document_outputs.h"

namespace loadmatrix {

ExitStatus nothing_found_under(const std::vector<std::filesystem::path>& paths,
                               std::string_view what, JobOutput& output) {
  std::string where;
  for (const auto& path : paths) {
    where += (where.empty() ? "" : ", ") + path.string();
  }
  output.err() << "loadmatrix: no " << what << " found under " << where << "\n";
  return ExitStatus::nothing_found;
}

} // namespace loadmatrix
