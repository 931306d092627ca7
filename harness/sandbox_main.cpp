#include "envs/sandbox_init.h"

int main(int argc, char** argv) {
  return loadmatrix::sandbox_init_main(argc, argv);
}
