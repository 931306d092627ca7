#include "testing/fault_cases.h"

#include <fmt/core.h>
#include <fstream>
#include <gtest/gtest.h>

namespace loadmatrix::test_support {

void write_fault_cases(const std::filesystem::path& dir, const std::string& armed,
                       const std::vector<std::string>& kinds) {
  std::filesystem::create_directories(dir / "src" / "faults");
  std::ofstream(dir / "src" / "faults" / "__init__.py")
      << "import os, signal, sys, time\n"
         "ARMED = "
      << armed
      << "\n\n"
         "def trigger(kind):\n"
         "    if ARMED:\n"
         "        if kind == 'segfault':\n            os.kill(os.getpid(), signal.SIGSEGV)\n"
         "        if kind == 'abort':\n            os.abort()\n"
         "        if kind == 'hang':\n            time.sleep(3600)\n"
         "        if kind == 'memory':\n            hog = bytearray(64 << 30)\n"
         "        if kind == 'silent_exit':\n            os._exit(0)\n"
         // The worker's module is not __main__ while a load runs (an empty one is: the
         // loader's, not the saver's); code a pickle runs still finds it, as here.
         "        if kind == 'garbage':\n"
         "            import gc, types\n"
         "            worker = next(m for m in gc.get_objects() if isinstance(m, types.ModuleType)"
         " and hasattr(m, 'PROTOCOL_FD'))\n"
         "            os.write(worker.PROTOCOL_FD, b'@loadmatrix {this is not json\\n')\n"
         "        if kind == 'limit':\n"
         "            import resource\n"
         "            soft, hard = resource.getrlimit(resource.RLIMIT_AS)\n"
         "            if soft != 4 << 30:\n                raise ValueError(f'RLIMIT_AS {soft}')\n"
         "    return kind\n\n"
         "class Fault:\n"
         "    def __init__(self, kind):\n        self.kind = kind\n"
         "    def __reduce__(self):\n        return (trigger, (self.kind,))\n";
  std::filesystem::create_directories(dir / "cases");
  for (size_t i = 0; i < kinds.size(); ++i) {
    std::ofstream(dir / "cases" / fmt::format("f{}_{}.py", i, kinds[i]))
        << "\"\"\"A load that faults.\"\"\"\nfrom faults import Fault\n\n"
        << "def build():\n    return {'fault': Fault('" << kinds[i] << "')}\n";
    std::ofstream(dir / "cases" / fmt::format("f{}_plain.py", i))
        << "\"\"\"Plain weights after a fault.\"\"\"\nimport torch\n\n"
        << "def build():\n    return {'w': torch.full((2,), " << i << ".0)}\n";
  }
}

const std::vector<std::string>& all_fault_kinds() {
  static const std::vector<std::string> kinds = {"segfault",    "abort",   "hang", "memory",
                                                 "silent_exit", "garbage", "limit"};
  return kinds;
}

void expect_faults_classified(const std::map<std::string, Json>& records,
                              const std::vector<std::string>& kinds, const std::string& armed,
                              const std::string& unarmed) {
  auto cell = [&](size_t i, const std::string& kind, const std::string& pair) {
    std::string key = fmt::format("f{}_{}|{}|unsafe", i, kind, pair);
    auto found = records.find(key);
    return found != records.end() ? found->second : Json{{"missing", key}};
  };
  for (size_t i = 0; i < kinds.size(); ++i) {
    const std::string& kind = kinds[i];
    Json got = cell(i, kind, armed);
    std::string outcome = got.value("outcome", "");
    std::string detail = got.value("detail", "");
    if (kind == "segfault") {
      EXPECT_EQ(outcome, "crash") << got.dump();
      EXPECT_EQ(detail, "killed by signal 11 (Segmentation fault)");
    } else if (kind == "abort") {
      EXPECT_EQ(outcome, "crash") << got.dump();
      EXPECT_EQ(detail, "killed by signal 6 (Aborted)");
    } else if (kind == "hang") {
      EXPECT_EQ(outcome, "timeout") << got.dump();
    } else if (kind == "memory") {
      EXPECT_EQ(outcome, "error") << got.dump();
      EXPECT_EQ(got.value("error_type", ""), "MemoryError");
    } else if (kind == "silent_exit") {
      EXPECT_EQ(outcome, "crash") << got.dump();
      EXPECT_NE(detail.find("without a result"), std::string::npos) << got.dump();
    } else if (kind == "garbage") {
      EXPECT_EQ(outcome, "error") << got.dump();
      EXPECT_NE(got.dump().find("malformed reply"), std::string::npos) << got.dump();
    } else if (kind == "limit") {
      // The MemoryError above is the cell limit's (--cell-memory 4), not the machine's.
      EXPECT_EQ(outcome, "pass") << got.dump();
    } else {
      ADD_FAILURE() << "no expectation for fault kind " << kind;
    }
    EXPECT_EQ(cell(i, "plain", armed).value("outcome", ""), "pass")
        << cell(i, "plain", armed).dump();
    EXPECT_EQ(cell(i, kind, unarmed).value("outcome", ""), "pass") << cell(i, kind, unarmed).dump();
  }
}

} // namespace loadmatrix::test_support
