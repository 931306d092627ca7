#include "cli/cli.h"

int main(int argc, char** argv) {
  return loadmatrix::loadmatrix_main(argc, argv);
}
