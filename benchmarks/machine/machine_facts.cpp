// Prints the machine line every benchmark report carries (shadowsync::machine_facts().summary()):
// scripts/bench prints it before any figures, benchmarks/pytorch/compare records it.
#include <cstdio>

#include "shadowsync/model/machine_facts.hpp"

int main() {
  std::printf("machine: %s\n", shadowsync::machine_facts().summary().c_str());
  return 0;
}
