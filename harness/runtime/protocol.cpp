#include "runtime/protocol.h"

#include <fmt/core.h>
#include <optional>

namespace loadmatrix {

bool is_protocol_line(std::string_view line) {
  return line.starts_with(kProtocolMarker);
}

Expected<Json> parse_protocol_line(std::string_view line, const std::string& origin) {
  if (!is_protocol_line(line)) {
    return Error{fmt::format("{}: not a '{}' line", origin, kProtocolMarker.substr(0, 11))};
  }
  return parse_foreign_json(line.substr(kProtocolMarker.size()), origin);
}

std::vector<Expected<Json>> protocol_messages(std::string_view stdout_text,
                                              const std::string& origin) {
  std::vector<Expected<Json>> messages;
  while (!stdout_text.empty()) {
    size_t newline = stdout_text.find('\n');
    std::string_view line = stdout_text.substr(0, newline);
    stdout_text.remove_prefix(newline == std::string_view::npos ? stdout_text.size() : newline + 1);
    if (is_protocol_line(line)) {
      messages.push_back(parse_protocol_line(line, origin));
    }
  }
  return messages;
}

Expected<Json> final_protocol_message(std::string_view stdout_text, const std::string& origin) {
  std::optional<Json> found;
  for (auto& message : protocol_messages(stdout_text, origin)) {
    if (!message) {
      return message.error();
    }
    found = std::move(message).value();
  }
  if (!found) {
    return Error{fmt::format("{}: the probe printed no '@loadmatrix' report line", origin)};
  }
  return *found;
}

} // namespace loadmatrix
