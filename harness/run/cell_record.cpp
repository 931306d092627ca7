#include "run/cell_record.h"

#include "util/text.h"
#include "util/utf8.h"

#include <fmt/core.h>

namespace loadmatrix {

void apply_classification(Record& record, const Classification& c) {
  record.outcome = c.outcome;
  record.error_type = c.error_type;
  record.message = c.message;
  record.detail = c.detail;
  record.reason = c.refusal.reason;
  record.blocked_globals = c.refusal.globals;
}

Json internal_error_facts(const std::exception& e) {
  return {{"status", "raised"},
          {"error_type", "loadmatrix"},
          {"message", "internal error handling this cell: " + valid_utf8(e.what())}};
}

Record internal_error_record(Record record, const std::exception& e) {
  apply_classification(record, classify(internal_error_facts(e), nullptr));
  return record;
}

std::string refusal_text(const Json& facts) {
  std::string status = facts.value("status", "");
  if (status != "raised") {
    return status.empty() ? "no result" : status;
  }
  std::string message = strip_ansi(facts.value("message", ""));
  constexpr std::string_view kMarker = "WeightsUnpickler error:";
  if (auto at = message.find(kMarker); at != std::string::npos) {
    size_t reason = message.find_first_not_of(" \n\r\t", at + kMarker.size());
    message = std::string(kMarker) + " " +
              (reason == std::string::npos ? std::string() : message.substr(reason));
  }
  message = message.substr(0, message.find('\n'));
  return truncate_utf8(fmt::format("{}: {}", facts.value("error_type", ""), message), 300);
}

} // namespace loadmatrix
