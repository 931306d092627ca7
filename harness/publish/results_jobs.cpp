#include "publish/results_jobs.h"

#include "records/merge.h"
#include "records/result_store.h"
#include "util/text.h"

#include <algorithm>
#include <fmt/core.h>

namespace loadmatrix {

ExitStatus report_job(const ReportRequest& request, JobOutput& output) {
  auto [header, records] = read_results(request.results).value_or_throw();
  return publish(std::move(header), std::move(records), request.out_dir, request.publishing,
                 output.out(), output.err());
}

ExitStatus merge_results_job(const MergeRequest& request, JobOutput& output) {
  MergeJobResult merged = merge_job(request.inputs, request.out_dir);
  output.out() << fmt::format("merged {} cells from {} file(s); {} missing\n",
                              merged.records.size(), merged.inputs, merged.missing.size());
  ExitStatus status = publish(std::move(merged.header), std::move(merged.records), request.out_dir,
                              request.publishing, output.out(), output.err());
  if (!merged.missing.empty() && !request.allow_missing) {
    std::vector<std::string> first(
        merged.missing.begin(),
        merged.missing.begin() + static_cast<long>(std::min<size_t>(5, merged.missing.size())));
    throw FatalError(fmt::format("merge: {} cell(s) missing (a shard failed or was not given), "
                                 "e.g. {}; use --allow-missing to accept",
                                 merged.missing.size(), join(first, ", ")));
  }
  return status;
}

} // namespace loadmatrix
