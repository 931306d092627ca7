// Where a job prints what it tells a person: the table, the counts, the headline on `out`, and
// why it fails on `err`. A live progress line (cli/progress_meter.h) shares the terminal, so
// the job calls begin() before its first line, which clears it for good.
#pragma once

#include <functional>
#include <ostream>
#include <utility>

namespace loadmatrix {

class JobOutput {
public:
  JobOutput(std::ostream& out, std::ostream& err, std::function<void()> before_first_line = {})
      : out_(out), err_(err), before_(std::move(before_first_line)) {}

  // `out`, once whatever shares the terminal has been cleared.
  std::ostream& out() {
    begin();
    return out_;
  }
  std::ostream& err() {
    begin();
    return err_;
  }

  // Clears what shares the terminal, once: before a document goes to standard output.
  void begin() {
    if (before_) {
      std::exchange(before_, {})();
    }
  }

private:
  std::ostream& out_;
  std::ostream& err_;
  std::function<void()> before_;
};

} // namespace loadmatrix
