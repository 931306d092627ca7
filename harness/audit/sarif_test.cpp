#include "audit/sarif.h"
#include "cli/resources.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

TEST(SarifTest, UrisArePercentEncodedFromThePathsBytes) {
  EXPECT_EQ(uri_path("src/pkg/a.py"), "src/pkg/a.py");
  EXPECT_EQ(uri_path("my dir/\xc3\xa9t\xc3\xa9.py"), "my%20dir/%C3%A9t%C3%A9.py");
  EXPECT_EQ(uri_path("bad\xffname.py"), "bad%FFname.py");
}

TEST(SarifTest, OneResultPerFindingAtItsCallSiteAndAFileErrorAsANotification) {
  AuditJobResult job;
  AuditedFile ok{{"/repo/pkg/utils.py", "pkg/utils.py", "/repo", "pkg/utils.py", "", ""},
                 true,
                 "",
                 true,
                 "",
                 "",
                 {}};
  AuditedFile broken{{"/repo/py2.py", "py2.py", "/repo", "py2.py", "", ""},
                     false,
                     "line 1: Missing parentheses in call to 'print'",
                     false,
                     "",
                     "",
                     {}};
  job.result.files = {ok, broken};
  CallSite site;
  site.line = 10;
  site.column = 12;
  site.end_line = 10;
  site.function = "clone_module";
  site.callee = "torch.load";
  site.code = "torch.load(buffer)";
  job.result.calls.push_back(
      {site,
       {},
       {{"LMA001", "the default flips", "`torch.load(buffer, weights_only=False)`"}},
       {}});
  Json sarif = audit_sarif(job, "/repo", sarif_information_uri(resources().home));
  EXPECT_EQ(sarif["version"], "2.1.0");
  const Json& run = sarif["runs"][0];
  EXPECT_EQ(run["tool"]["driver"]["rules"].size(), 10u);
  ASSERT_EQ(run["results"].size(), 1u);
  const Json& result = run["results"][0];
  EXPECT_EQ(result["ruleId"], "LMA001");
  EXPECT_EQ(result["level"], "error");
  const Json& location = result["locations"][0]["physicalLocation"];
  EXPECT_EQ(location["artifactLocation"]["uri"], "pkg/utils.py");
  EXPECT_EQ(location["artifactLocation"]["uriBaseId"], "SRCROOT");
  EXPECT_EQ(location["region"]["startLine"], 10);
  EXPECT_EQ(run["originalUriBaseIds"]["SRCROOT"]["uri"], "file:///repo/");
  const Json& notes = run["invocations"][0]["toolExecutionNotifications"];
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0]["level"], "error");
  // Outside the base directory: an absolute file URI.
  EXPECT_EQ(audit_sarif(job, "/elsewhere",
                        sarif_information_uri(
                            resources().home))["runs"][0]["results"][0]["locations"][0]
                                              ["physicalLocation"]["artifactLocation"]["uri"],
            "file:///repo/pkg/utils.py");
}

TEST(SarifTest, ACallThroughHelpersCarriesItsChainAsACodeFlowAndNotesAreNotifications) {
  AuditJobResult job;
  AuditedFile train{{"/repo/train.py", "train.py", "/repo", "train.py", "", ""},
                    true,
                    "",
                    true,
                    "",
                    "",
                    {"line 1: `from helpers import *`: not read"}};
  job.result.files = {train};
  CallSite site;
  site.line = 40;
  site.column = 13;
  site.end_line = 40;
  site.function = "restore";
  site.callee = "torch.load";
  site.code = "Model.load_from_checkpoint(path)";
  site.via = "lightning.pytorch.core.module.LightningModule.load_from_checkpoint";
  site.chain = {{"/repo/.venv/lib/lightning/pytorch/core/module.py", 1781, 19,
                 "LightningModule.load_from_checkpoint", "_load_from_checkpoint(cls, ...)",
                 "lightning", "2.6.0", ""},
                {"/repo/.venv/lib/lightning/fabric/utilities/cloud_io.py", 73, 16, "_load",
                 "torch.load(f, weights_only=weights_only)", "lightning", "2.6.0", ""}};
  job.result.calls.push_back({site, {}, {{"LMA001", "the default flips", "pass it"}}, {}});
  Json sarif = audit_sarif(job, "/repo", sarif_information_uri(resources().home));
  const Json& result = sarif["runs"][0]["results"][0];
  ASSERT_EQ(result["codeFlows"].size(), 1u);
  const Json& steps = result["codeFlows"][0]["threadFlows"][0]["locations"];
  ASSERT_EQ(steps.size(), 3u); // the user's call, then each hop
  EXPECT_EQ(steps[0]["location"]["physicalLocation"]["artifactLocation"]["uri"], "train.py");
  EXPECT_EQ(steps[2]["location"]["physicalLocation"]["artifactLocation"]["uri"],
            ".venv/lib/lightning/fabric/utilities/cloud_io.py");
  EXPECT_EQ(steps[2]["location"]["physicalLocation"]["region"]["startLine"], 73);
  EXPECT_EQ(steps[2]["location"]["message"]["text"], "in _load (lightning 2.6.0)");
  const Json& notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"];
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0]["level"], "note");
}
