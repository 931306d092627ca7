// The portable snippet as text: what it allowlists, what it refuses to, and that Python reads it.
#include "records/portable_fix.h"
#include "testing/test_envs.h"
#include "util/output_file.h"
#include "util/process.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

TEST(PortableFixTest, ASnippetNamesEveryGlobalAndHandlesVersionsWithoutTheApi) {
  PortableSnippet snippet =
      portable_snippet({"argparse.Namespace", "numpy.core.multiarray.scalar", "numpy.dtype"});
  ASSERT_TRUE(snippet.why_not.empty());
  EXPECT_NE(snippet.source.find("    \"argparse.Namespace\",\n"), std::string::npos);
  EXPECT_NE(snippet.source.find("\"numpy.core.multiarray.scalar\""), std::string::npos);
  // numpy 1 and 2 spellings, (object, name) pairs, and torch before add_safe_globals.
  EXPECT_NE(snippet.source.find("numpy._core"), std::string::npos);
  EXPECT_NE(snippet.source.find("(obj, name)"), std::string::npos);
  EXPECT_NE(snippet.source.find("hasattr(torch.serialization, \"add_safe_globals\")"),
            std::string::npos);
  EXPECT_NE(snippet.source.find("Trusted files only"), std::string::npos);
}

TEST(PortableFixTest, AGlobalThatRunsCodeIsNeverInASnippet) {
  for (const char* name : {"posix.system", "builtins.getattr", "copyreg.extension_registry[1]"}) {
    PortableSnippet snippet = portable_snippet({"argparse.Namespace", name});
    EXPECT_TRUE(snippet.source.empty()) << name;
    EXPECT_NE(snippet.why_not.find(name), std::string::npos) << snippet.why_not;
  }
}

TEST(PortableFixTest, ANameFromAFileCannotBreakOutOfItsStringAndPythonCompilesTheSnippet) {
  std::string hostile = "x\"]\nimport os; os.system('touch /tmp/owned')  # \\";
  PortableSnippet snippet = portable_snippet({hostile, "argparse.Namespace"});
  ASSERT_FALSE(snippet.source.empty());
  // Python compiles it, and the list holds exactly the two names.
  test_support::TempDir dir;
  ASSERT_TRUE(write_output_file(dir.path() / "snippet.py", snippet.source));
  SystemProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"/usr/bin/python3", "-c",
               "import ast, sys\n"
               "tree = ast.parse(open(sys.argv[1]).read())\n"
               "names = [n for n in tree.body if isinstance(n, ast.Assign)][0].value\n"
               "print(len(names.elts), [e.value for e in names.elts][0] == " +
                   std::string("'x\"]\\nimport os; os.system(\\'touch /tmp/owned\\')  # \\\\'") +
                   ")",
               (dir.path() / "snippet.py").string()};
  ProcessResult result = runner.run(spec);
  ASSERT_TRUE(result.succeeded()) << result.stderr_text << snippet.source;
  EXPECT_EQ(result.stdout_text, "2 True\n");
}
