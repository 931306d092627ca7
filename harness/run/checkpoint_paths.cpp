#include "run/checkpoint_paths.h"

#include "util/hash.h"
#include "util/utf8.h"

namespace loadmatrix {

std::filesystem::path checkpoints_root(const std::filesystem::path& out_dir,
                                       const std::optional<std::filesystem::path>& from) {
  return from ? *from : out_dir / "checkpoints";
}

std::string checkpoint_stem(const std::string& case_name) {
  constexpr size_t kLongest = 200;
  if (case_name.size() <= kLongest) {
    return case_name;
  }
  return truncate_utf8(case_name, kLongest - 17) + "-" + Fnv1a().add(case_name).hex();
}

} // namespace loadmatrix
