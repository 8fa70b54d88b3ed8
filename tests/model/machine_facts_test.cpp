// Tests of the machine facts benchmarks print (src/model/machine_facts.cpp): /proc/cpuinfo
// parsing, oneDNN ISA names, and the running machine's facts against /proc/cpuinfo.
#include "shadowsync/model/machine_facts.hpp"

#include <gtest/gtest.h>
#include <oneapi/dnnl/dnnl.h>

#include <fstream>
#include <sstream>
#include <string>

namespace shadowsync {
namespace {

constexpr const char* kXeonCpuinfo =
    "processor\t: 0\n"
    "vendor_id\t: GenuineIntel\n"
    "model name\t: Intel(R) Xeon(R) Platinum 8488C\n"
    "flags\t\t: fpu sse avx2 avx512f avx512bw avx512_bf16 amx_bf16 amx_tile amx_int8\n"
    "\n"
    "processor\t: 1\n"
    "model name\t: Something Else\n"
    "flags\t\t: fpu\n";

TEST(MachineFacts, ParsesTheFirstProcessorsModelAndFlags) {
  const MachineFacts facts = parse_cpuinfo(kXeonCpuinfo);
  EXPECT_EQ(facts.cpu_model, "Intel(R) Xeon(R) Platinum 8488C");
  EXPECT_TRUE(facts.avx512f);
  EXPECT_TRUE(facts.avx512_bf16);
  EXPECT_TRUE(facts.amx_bf16);
}

TEST(MachineFacts, FlagsMatchWholeWordsOnly) {
  // avx512fp16 and avx512_bf16x are not avx512f / avx512_bf16; amx_bf16 without amx_tile is no AMX.
  const MachineFacts facts = parse_cpuinfo("model name : X\nflags : avx512fp16 avx512_bf16x amx_bf16\n");
  EXPECT_FALSE(facts.avx512f);
  EXPECT_FALSE(facts.avx512_bf16);
  EXPECT_FALSE(facts.amx_bf16);
  EXPECT_EQ(facts.cpu_model, "X");
}

TEST(MachineFacts, MissingLinesGiveUnknownModelAndNoFlags) {
  const MachineFacts facts = parse_cpuinfo("processor : 0\n");
  EXPECT_EQ(facts.cpu_model, "unknown");
  EXPECT_FALSE(facts.avx512f);
  EXPECT_FALSE(facts.avx512_bf16);
  EXPECT_FALSE(facts.amx_bf16);
}

TEST(MachineFacts, NamesOneDnnIsas) {
  EXPECT_EQ(onednn_isa_name(dnnl_cpu_isa_avx512_core_bf16), "avx512_core_bf16");
  EXPECT_EQ(onednn_isa_name(dnnl_cpu_isa_avx2), "avx2");
  EXPECT_EQ(onednn_isa_name(dnnl_cpu_isa_avx512_core_amx), "avx512_core_amx");
  EXPECT_EQ(onednn_isa_name(0x12345), "isa_0x12345");
}

TEST(MachineFacts, SummaryNamesEveryField) {
  MachineFacts facts = parse_cpuinfo(kXeonCpuinfo);
  facts.processing_units = 4;
  facts.onednn_isa = "avx512_core_amx";
  EXPECT_EQ(facts.summary(),
            "cpu=Intel(R) Xeon(R) Platinum 8488C units=4 avx512f=yes avx512_bf16=yes amx=yes "
            "onednn_isa=avx512_core_amx");
}

// Whether /proc/cpuinfo's first flags line holds `flag` (an independent reading for the check).
bool cpuinfo_has(const std::string& flags_line, const std::string& flag) {
  std::istringstream words(flags_line.substr(flags_line.find(':') + 1));
  std::string word;
  while (words >> word) {
    if (word == flag) return true;
  }
  return false;
}

TEST(MachineFacts, RunningMachineAgreesWithProcCpuinfo) {
  const MachineFacts facts = machine_facts();
  EXPECT_FALSE(facts.cpu_model.empty());
  EXPECT_GE(facts.processing_units, 1);
  EXPECT_FALSE(facts.onednn_isa.empty());
  EXPECT_EQ(facts.onednn_isa.find("isa_0x"), std::string::npos) << facts.onednn_isa;
  std::ifstream in("/proc/cpuinfo");
  if (!in) GTEST_SKIP() << "no /proc/cpuinfo on this machine";
  std::string line, flags;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0) {
      flags = line;
      break;
    }
  }
  ASSERT_FALSE(flags.empty());
  EXPECT_NE(facts.cpu_model, "unknown");
  EXPECT_EQ(facts.avx512f, cpuinfo_has(flags, "avx512f"));
  EXPECT_EQ(facts.avx512_bf16, cpuinfo_has(flags, "avx512_bf16"));
  EXPECT_EQ(facts.amx_bf16, cpuinfo_has(flags, "amx_bf16") && cpuinfo_has(flags, "amx_tile"));
  // oneDNN picks a BF16 ISA only where the CPU has the instructions.
  if (facts.onednn_isa == "avx512_core_bf16") {
    EXPECT_TRUE(facts.avx512_bf16);
  }
  if (facts.onednn_isa == "avx512_core_amx") {
    EXPECT_TRUE(facts.amx_bf16);
  }
}

}  // namespace
}  // namespace shadowsync
