#include "publish/document_outputs.h"

#include "util/text.h"

namespace loadmatrix {

ExitStatus nothing_found_under(const std::vector<std::filesystem::path>& paths,
                               std::string_view what, JobOutput& output) {
  output.err() << "loadmatrix: no " << what << " found under "
               << join(std::vector<std::string>(paths.begin(), paths.end()), ", ") << "\n";
  return ExitStatus::nothing_found;
}

} // namespace loadmatrix
