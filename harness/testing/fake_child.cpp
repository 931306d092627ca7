// A child whose misbehaviour the process tests order by name (lit's fake gtest binaries,
// CTest's TestTimeout.c). Usage: fake_child MODE [ARGS...]
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <unistd.h>

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  auto arg = [&](int i) { return argc > i ? std::atoi(argv[i]) : 0; };
  if (mode == "exit") {
    std::printf("out\n");
    std::fprintf(stderr, "err\n");
    return arg(2);
  }
  if (mode == "signal") {
    std::raise(arg(2));
    return 0;
  }
  if (mode == "sleep") {
    ::sleep(static_cast<unsigned>(arg(2)));
    return 0;
  }
  if (mode == "ignore-term") {
    std::signal(SIGTERM, SIG_IGN);
    ::sleep(static_cast<unsigned>(arg(2)));
    return 0;
  }
  if (mode == "fork-sleep") { // a grandchild that records its pid, then both sleep
    pid_t pid = ::fork();
    if (pid == 0) {
      std::ofstream(argv[3]) << ::getpid() << "\n";
      ::sleep(static_cast<unsigned>(arg(2)));
      return 0;
    }
    ::sleep(static_cast<unsigned>(arg(2)));
    return 0;
  }
  if (mode == "orphan-holds-pipe") { // leaves the group, keeps stdout open, parent exits
    if (::fork() == 0) {
      ::setsid();
      ::sleep(static_cast<unsigned>(arg(2)));
      return 0;
    }
    std::printf("parent done\n");
    return 0;
  }
  if (mode == "flood") {
    std::string chunk(4096, 'x');
    for (int written = 0; written < arg(2); written += 4096) {
      std::fwrite(chunk.data(), 1, chunk.size(), stdout);
    }
    return 0;
  }
  if (mode == "flood-utf8") { // "é" is two bytes: a cut at an odd offset would split one
    for (int i = 0; i < arg(2); ++i) {
      std::fputs("\xc3\xa9", stdout);
    }
    return 0;
  }
  if (mode == "read-stdin") {
    int c = std::getchar();
    std::printf(c == EOF ? "eof\n" : "data\n");
    return 0;
  }
  std::fprintf(stderr, "fake_child: unknown mode '%s'\n", mode.c_str());
  return 64;
}
