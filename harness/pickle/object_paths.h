// Where in the saved object each global is used: the path from the object torch.load returns
// (the pickle's STOP) to the value the global makes, e.g. `["hyper_parameters"]["specs"]` or
// `["optimizer_history"][0]["lr_scheduler_state"]["best"]`. That is the fix on the saving side
// (store `vars(args)` instead of `args`, a float instead of a numpy scalar), which no allowlist
// gives. Static, like pickle_analysis: nothing is executed, untrusted bytes are read with
// bounds checks and the same budgets, and an error names the byte offset. Strings are views
// into the pickle, never copies, and at most 2,000,000 values are tracked (about 80 MB): a
// file past that gets an error, not the machine's memory.
//
// A path is made of dict keys (SETITEM, SETITEMS, DICT: `["key"]`, `[3]`, `[…]` for keys that
// are neither strings nor ints), list and tuple positions (APPEND, APPENDS, LIST, TUPLE*:
// `[0]`) and attributes (the keys of a BUILD state dict: `.lr`). A value inside a call's
// arguments or a BUILD state that is not a dict (numpy.dtype inside an ndarray's
// reconstruction) is placed at the object the call makes. "" is the returned object itself.
#pragma once

#include "pickle/pickle_analysis.h"

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace loadmatrix {

// global name (Python 3 spelling, as GlobalUse::name) -> the path of its first use reachable
// from the returned object; a global used only where the result cannot reach (a discarded
// value) has no entry. Costs one more walk of the pickle: callers ask only for files whose
// globals need placing (blocked or dangerous ones).
Expected<std::map<std::string, std::string>> global_object_paths(std::string_view pickle,
                                                                 const PickleLimits& limits = {});

// The same for a checkpoint file, over the pickles torch.load unpickles (a zip's data.pkl, every
// pickle of the legacy formats; none of a TorchScript archive, which torch.jit.load reads): the
// first place found wins. The error names the file or the member at fault.
Expected<std::map<std::string, std::string>>
checkpoint_object_paths(const std::filesystem::path& file);

// The path for a blocked global in `paths`, or null. numpy 2's per-dtype classes
// (numpy.dtypes.Float32DType) are not named in the file: BUILD of a numpy.dtype makes them, so
// they sit where numpy.dtype does.
const std::string* object_path_for(const std::map<std::string, std::string>& paths,
                                   const std::string& global);

} // namespace loadmatrix
