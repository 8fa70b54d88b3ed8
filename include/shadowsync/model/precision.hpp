// Precision: the number format of a training step's matrix products. fp32 everywhere (the
// default), or bf16: the large GEMMs take BF16 inputs (fp32 accumulation and results) while
// weights, gradients, optimizer state and embeddings stay fp32. Which GEMMs run in BF16 is the
// measured trade-off in docs/precision.md. bf16 needs a CPU whose oneDNN ISA has native BF16
// (AVX512_BF16 or AMX); elsewhere it is refused rather than emulated (emulated BF16 is slower
// than fp32, so it would never pay).
#pragma once

#include <string>
#include <string_view>

#include "shadowsync/model/machine_facts.hpp"

namespace shadowsync {

enum class Precision { Fp32, Bf16 };

// "fp32" / "bf16"; anything else: Error naming the field precision and listing the valid values.
Precision parse_precision(std::string_view text);
std::string precision_name(Precision precision);

// "" when a machine with these facts runs `precision` natively, else why not (one sentence
// naming the missing feature and the machine). fp32 is supported everywhere. bf16 needs the CPU
// flag (avx512_bf16, or amx_bf16 with amx_tile) and oneDNN using it (its effective ISA
// avx512_core_bf16 or avx512_core_amx; ONEDNN_MAX_CPU_ISA can lower it).
std::string precision_unsupported_reason(Precision precision, const MachineFacts& facts);

// Throws Error naming the field precision when this machine (machine_facts()) cannot run it.
void require_precision_supported(Precision precision);

}  // namespace shadowsync
