// Parsing, naming and the machine check of a training step's precision (see precision.hpp).
#include "shadowsync/model/precision.hpp"

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"
#include "shadowsync/core/untrusted_json.hpp"
#include "shadowsync/model/model_config.hpp"

namespace shadowsync {

Precision parse_precision(std::string_view text) {
  if (text == "fp32") return Precision::Fp32;
  if (text == "bf16") return Precision::Bf16;
  throw Error(field("precision") + ": unknown precision " + json_brief(nlohmann::json(std::string(text))) +
              " (valid: fp32, bf16)");
}

std::string precision_name(Precision precision) { return precision == Precision::Bf16 ? "bf16" : "fp32"; }

std::string precision_unsupported_reason(Precision precision, const MachineFacts& facts) {
  if (precision == Precision::Fp32) return "";
  const bool cpu = facts.avx512_bf16 || facts.amx_bf16;
  const bool onednn = facts.onednn_isa == "avx512_core_bf16" || facts.onednn_isa == "avx512_core_amx";
  if (cpu && onednn) return "";
  if (!cpu) {
    return fmt::format("bf16 needs a CPU with AVX512_BF16 or AMX; this one ({}) has neither (avx512_bf16=no amx=no)",
                       facts.cpu_model);
  }
  return fmt::format("bf16 needs oneDNN to use the CPU's BF16 instructions, but its ISA is {} (lowered by "
                     "ONEDNN_MAX_CPU_ISA?)",
                     facts.onednn_isa.empty() ? "unknown" : facts.onednn_isa);
}

void require_precision_supported(Precision precision) {
  if (precision == Precision::Fp32) return;  // without reading the machine's facts
  const std::string reason = precision_unsupported_reason(precision, machine_facts());
  if (!reason.empty()) throw Error(field("precision") + " " + reason + "; use fp32");
}

}  // namespace shadowsync
