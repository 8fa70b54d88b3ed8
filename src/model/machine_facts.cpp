// Gathers the machine facts benchmarks report with their figures (see machine_facts.hpp).
#include "shadowsync/model/machine_facts.hpp"

#include <fmt/format.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

namespace shadowsync {
namespace {

// Whether the space-separated `flags` list holds `flag` as a whole word.
bool has_flag(std::string_view flags, std::string_view flag) {
  size_t pos = 0;
  while ((pos = flags.find(flag, pos)) != std::string_view::npos) {
    const bool starts = pos == 0 || flags[pos - 1] == ' ' || flags[pos - 1] == '\t';
    const size_t end = pos + flag.size();
    const bool ends = end == flags.size() || flags[end] == ' ' || flags[end] == '\t' || flags[end] == '\n';
    if (starts && ends) return true;
    pos = end;
  }
  return false;
}

// The value after "key<spaces>:" on a line of /proc/cpuinfo, or nullopt-like empty with found=false.
bool value_of(std::string_view line, std::string_view key, std::string_view& value) {
  if (line.substr(0, key.size()) != key) return false;
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  for (size_t i = key.size(); i < colon; ++i) {
    if (line[i] != ' ' && line[i] != '\t') return false;
  }
  value = line.substr(colon + 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.remove_suffix(1);
  return true;
}

}  // namespace

std::string MachineFacts::summary() const {
  return fmt::format("cpu={} units={} avx512f={} avx512_bf16={} amx={} onednn_isa={}", cpu_model, processing_units,
                     avx512f ? "yes" : "no", avx512_bf16 ? "yes" : "no", amx_bf16 ? "yes" : "no", onednn_isa);
}

MachineFacts parse_cpuinfo(std::string_view cpuinfo) {
  MachineFacts facts;
  facts.cpu_model = "unknown";
  bool have_model = false, have_flags = false;
  while (!cpuinfo.empty() && !(have_model && have_flags)) {
    const size_t newline = cpuinfo.find('\n');
    const std::string_view line = cpuinfo.substr(0, newline);
    cpuinfo = newline == std::string_view::npos ? std::string_view() : cpuinfo.substr(newline + 1);
    std::string_view value;
    if (!have_model && value_of(line, "model name", value)) {
      if (!value.empty()) facts.cpu_model = std::string(value);
      have_model = true;
    } else if (!have_flags && value_of(line, "flags", value)) {
      facts.avx512f = has_flag(value, "avx512f");
      facts.avx512_bf16 = has_flag(value, "avx512_bf16");
      facts.amx_bf16 = has_flag(value, "amx_bf16") && has_flag(value, "amx_tile");
      have_flags = true;
    }
  }
  return facts;
}

std::string onednn_isa_name(int isa) {
  switch (isa) {
    case dnnl_cpu_isa_all: return "all";
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    default: return fmt::format("isa_{:#x}", isa);
  }
}

MachineFacts machine_facts() {
  MachineFacts facts;
  std::ifstream in("/proc/cpuinfo");
  if (in) {
    std::ostringstream text;
    text << in.rdbuf();
    facts = parse_cpuinfo(text.str());
  } else {
    facts.cpu_model = "unknown";
    __builtin_cpu_init();
    facts.avx512f = __builtin_cpu_supports("avx512f");
  }
  facts.processing_units = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  facts.onednn_isa = onednn_isa_name(static_cast<int>(dnnl_get_effective_cpu_isa()));
  return facts;
}

}  // namespace shadowsync
