// Runs one command and writes its wall time, peak RSS and exit status as JSON to a file:
//
//   loadmatrix_peak_rss REPORT COMMAND [ARG...]
//
// bench/run cannot take a child's peak RSS from its own wait4. A child forked from Python holds
// the interpreter's resident pages until it execs, and the kernel counts them in the child's
// ru_maxrss: a child of a 30 MiB Python running /bin/true reports 14 MiB or more. Spawned from
// this small process instead, the child starts from this process's few resident pages.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s REPORT COMMAND [ARG...]\n", argv[0]);
    return 2;
  }
  auto started = std::chrono::steady_clock::now();
  pid_t child = 0;
  int spawn_error = ::posix_spawnp(&child, argv[2], nullptr, nullptr, argv + 2, environ);
  if (spawn_error != 0) {
    std::fprintf(stderr, "%s: cannot run %s: %s\n", argv[0], argv[2], std::strerror(spawn_error));
    return 2;
  }
  int status = 0;
  struct rusage usage {};
  while (::wait4(child, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      std::fprintf(stderr, "%s: wait4: %s\n", argv[0], std::strerror(errno));
      return 2;
    }
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::FILE* report = std::fopen(argv[1], "w");
  if (!report) {
    std::fprintf(stderr, "%s: cannot write %s: %s\n", argv[0], argv[1], std::strerror(errno));
    return 2;
  }
  // A signal's death is reported as the shell does: 128 + the signal.
  int exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::fprintf(report, "{\"seconds\": %.9f, \"peak_rss_kib\": %ld, \"exit_status\": %d}\n", seconds,
               usage.ru_maxrss, exit_status);
  bool written = std::fclose(report) == 0;
  if (!written) {
    std::fprintf(stderr, "%s: cannot write %s\n", argv[0], argv[1]);
    return 2;
  }
  return exit_status;
}
