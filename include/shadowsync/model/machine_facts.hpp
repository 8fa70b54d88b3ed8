// Machine facts that every benchmark figure is reported with: CPU model, the instruction-set
// flags the kernels care about (AVX-512, AVX512_BF16, AMX), processing units, and the ISA oneDNN
// chose. The library only gathers them; front ends and benchmarks print summary().
#pragma once

#include <string>
#include <string_view>

namespace shadowsync {

struct MachineFacts {
  std::string cpu_model;       // /proc/cpuinfo "model name" ("unknown" when absent)
  int processing_units = 0;    // logical CPUs online (std::thread::hardware_concurrency)
  bool avx512f = false;        // flags as /proc/cpuinfo lists them
  bool avx512_bf16 = false;
  bool amx_bf16 = false;       // amx_bf16 (with amx_tile): oneDNN's avx512_core_amx
  std::string onednn_isa;      // dnnl_get_effective_cpu_isa() as a name, e.g. "avx512_core_bf16"

  // One line: "cpu=<model> units=<n> avx512f=yes avx512_bf16=yes amx=no onednn_isa=<isa>".
  std::string summary() const;
};

// CPU model and flags of a /proc/cpuinfo text (its first processor's "model name" and "flags"
// lines); processing_units and onednn_isa are left empty. Exposed for tests.
MachineFacts parse_cpuinfo(std::string_view cpuinfo);

// The running machine's facts (reads /proc/cpuinfo; where it cannot be read, the flags come from
// the compiler's CPU detection and the model is "unknown"). Never throws.
MachineFacts machine_facts();

// Name of a oneDNN dnnl_cpu_isa_t value ("avx512_core_bf16", ...; "isa_0x..." for unknown ones).
std::string onednn_isa_name(int isa);

}  // namespace shadowsync
