// The terminal view's allowlist: what a user copies must work in the env it is shown for.
#include "scan/scan_table.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

// sevenn's checkpoints name numpy.core.multiarray._reconstruct; under numpy 2 the object lives in
// numpy._core, and allowlisting it alone still refuses the file (measured in torch 2.6 with
// numpy 2.4.6): the pair names the pickle's spelling.
TEST(ScanTableTest, UnderNumpyTwoANumpyCoreGlobalIsAllowlistedAsAPair) {
  std::vector<std::string> globals = {"numpy.core.multiarray._reconstruct", "numpy.ndarray",
                                      "argparse.Namespace"};
  EXPECT_EQ(allowlist_call(globals, std::string("2.4.6")),
            "torch.serialization.add_safe_globals([(numpy._core.multiarray._reconstruct, "
            "\"numpy.core.multiarray._reconstruct\"), numpy.ndarray, argparse.Namespace])");
  EXPECT_EQ(allowlist_call(globals, std::string("1.26.4")),
            "torch.serialization.add_safe_globals([numpy.core.multiarray._reconstruct, "
            "numpy.ndarray, argparse.Namespace])");
  EXPECT_EQ(allowlist_call(globals, std::nullopt),
            "torch.serialization.add_safe_globals([numpy.core.multiarray._reconstruct, "
            "numpy.ndarray, argparse.Namespace])");
}
