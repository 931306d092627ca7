// Who sandboxed commands run as, in every env kind: nobody, so the only things they can write
// are what the driver hands to this user. Its own header because loadmatrix-sandbox, linked
// statically into images, includes nothing else of ours.
#pragma once

#include <cstdio>
#include <sys/types.h>

namespace loadmatrix {

inline constexpr uid_t kSandboxUser = 65534;

// Whether `uid` is mapped in this process's user namespace (/proc/self/uid_map): root can become
// kSandboxUser only where it is. True when the map cannot be read (the plain error then says what
// failed).
inline bool uid_mapped_here(uid_t uid) {
  FILE* map = std::fopen("/proc/self/uid_map", "r");
  if (map == nullptr) {
    return true;
  }
  unsigned long long inside = 0, outside = 0, count = 0;
  bool mapped = false;
  while (std::fscanf(map, "%llu %llu %llu", &inside, &outside, &count) == 3) {
    mapped = mapped || (uid >= inside && uid - inside < count);
  }
  std::fclose(map);
  return mapped;
}

} // namespace loadmatrix
