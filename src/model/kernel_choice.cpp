// The process-wide kernel choice (see kernel_choice.hpp).
#include "model/kernel_choice.hpp"

namespace shadowsync {

KernelChoice& kernel_choice() {
  static KernelChoice choice;
  return choice;
}

Bf16Gemms& bf16_gemms() {
  static Bf16Gemms choice;
  return choice;
}

}  // namespace shadowsync
