#include "cli/resources.h"
#include "matrix/case_catalog.h"
#include "testing/test_envs.h"
#include "util/error.h"

#include <fstream>
#include <gtest/gtest.h>

using namespace loadmatrix;

TEST(CaseCatalogTest, TheBuiltInCorpusHasFortyRecipesWithNotes) {
  auto cases = discover_cases({resources().cases_dir}, {});
  size_t recipes = 0;
  size_t scenarios = 0;
  for (const auto& spec : cases) {
    (spec.kind == CaseKind::recipe ? recipes : scenarios) += 1;
    EXPECT_FALSE(spec.note.empty()) << spec.file << " has no one-line note";
  }
  EXPECT_GE(recipes, 40u);
  EXPECT_GE(scenarios, 2u);
}

TEST(CaseCatalogTest, GlobsSelectByName) {
  auto cases = discover_cases({resources().cases_dir}, {"numpy_*", "opacus*"});
  std::vector<std::string> names;
  for (const auto& spec : cases) {
    names.push_back(spec.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"numpy_array", "numpy_dtype", "numpy_rng_state",
                                             "numpy_scalar", "opacus_clone_module",
                                             "opacus_library_clone_module"}));
}

TEST(CaseCatalogTest, AUsersFlatDirectoryAddsRecipesAndCollisionsAreNamed) {
  test_support::TempDir dir;
  std::ofstream(dir.path() / "my_checkpoint.py") << "\"\"\"Our model's checkpoint.\"\"\"\n";
  auto cases = discover_cases({dir.path()}, {});
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].note, "Our model's checkpoint.");
  EXPECT_EQ(cases[0].kind, CaseKind::recipe);

  std::ofstream(dir.path() / "state_dict.py") << "def build(): return {}\n";
  try {
    discover_cases({resources().cases_dir, dir.path()}, {});
    FAIL() << "a duplicate case name was accepted";
  } catch (const FatalError& e) {
    EXPECT_NE(std::string(e.what()).find("state_dict.py: case 'state_dict' is already defined by"),
              std::string::npos)
        << e.what();
  }
}
