#include "testing/fault_cases.h"

#include <fmt/core.h>
#include <fstream>

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
         "        if kind == 'garbage':\n"
         "            import __main__\n"
         "            os.write(__main__.PROTOCOL_FD, b'@loadmatrix {this is not json\\n')\n"
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

} // namespace loadmatrix::test_support
