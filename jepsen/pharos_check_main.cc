// pharos-check: decides whether a Jepsen-style history is linearizable (see check_command.h).
#include <iostream>

#include "jepsen/check_command.h"

int main(int argc, char** argv) {
  return pharos::jepsen::RunCheckCommand(argc, argv, std::cin, std::cout, std::cerr);
}
