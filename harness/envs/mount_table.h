// The mount points of this process's mount namespace, as /proc/self/mountinfo lists them (its
// fifth field), with the kernel's octal escapes undone ("\040" is a space), so that they compare
// equal to real paths. Header-only: the static loadmatrix-sandbox includes it without linking
// anything else of ours.
#pragma once

#include <cctype>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace loadmatrix {

inline std::string unescape_mount_point(const std::string& field) {
  std::string out;
  auto digit = [&](size_t at) { return std::isdigit(static_cast<unsigned char>(field[at])) != 0; };
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && digit(i + 1) && digit(i + 2) && digit(i + 3)) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

inline std::vector<std::string> mount_points() {
  std::vector<std::string> points;
  std::ifstream info("/proc/self/mountinfo");
  for (std::string line; std::getline(info, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    fields >> id >> parent >> device >> root >> point;
    points.push_back(unescape_mount_point(point));
  }
  return points;
}

} // namespace loadmatrix
