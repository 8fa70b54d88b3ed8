// `shadowsync train --precision` as a process: an unknown value and bf16 on a machine (or a
// oneDNN limited by ONEDNN_MAX_CPU_ISA) without native BF16 are refused with a message naming
// --precision and the missing feature; where the CPU has BF16, a bf16 run trains, records
// "precision": "bf16" in its metrics and checkpoint, and the checkpoint is read by eval. The
// executable's path comes in SHADOWSYNC_EXE (tests/cli/meson.build).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "../common/cli_data.hpp"
#include "../common/run_command.hpp"
#include "shadowsync/model/machine_facts.hpp"
#include "shadowsync/model/precision.hpp"

namespace shadowsync {
namespace {

using test::RunResult;

const std::string& data_file() { return test::generated_data_file("shadowsync_precision_cli"); }
std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_precision_cli", name); }

const char* const kSmall = " --model small --rows-per-table 4096 --quiet --sync none --groups 1 --threads-per-group 1 ";

TEST(PrecisionOption, UnknownValueIsRefusedNamingTheOption) {
  const RunResult r = test::run_shadowsync("train --data '" + data_file() + "'" + kSmall + "--precision fp16");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "shadowsync: error: --precision: unknown precision \"fp16\" (valid: fp32, bf16)\n");
}

TEST(PrecisionOption, Bf16WithoutNativeBf16IsRefusedNamingTheMissingFeature) {
  // oneDNN limited to AVX-512 without BF16: the run must not fall back silently.
  const RunResult r = test::run_shell_command("ONEDNN_MAX_CPU_ISA=AVX512_CORE '" + test::shadowsync_exe() +
                                              "' train --data '" + data_file() + "'" + kSmall + "--precision bf16 2>&1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  const MachineFacts facts = machine_facts();
  if (facts.avx512_bf16 || facts.amx_bf16) {
    EXPECT_EQ(r.output,
              "shadowsync: error: --precision bf16 needs oneDNN to use the CPU's BF16 instructions, but its ISA is "
              "avx512_core (lowered by ONEDNN_MAX_CPU_ISA?); use fp32\n");
  } else {
    EXPECT_EQ(r.output, "shadowsync: error: --precision bf16 needs a CPU with AVX512_BF16 or AMX; this one (" +
                            facts.cpu_model + ") has neither (avx512_bf16=no amx=no); use fp32\n");
  }
}

TEST(PrecisionOption, Bf16RunRecordsItsPrecisionAndItsCheckpointIsRead) {
  if (const std::string why = precision_unsupported_reason(Precision::Bf16, machine_facts()); !why.empty()) {
    GTEST_SKIP() << why;
  }
  const std::string ckpt = temp_path("bf16.ckpt"), metrics = temp_path("bf16.jsonl");
  const RunResult trained = test::run_shadowsync("train --data '" + data_file() + "'" + kSmall +
                                                 "--precision bf16 --checkpoint '" + ckpt + "' --metrics '" + metrics + "'");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  std::ifstream lines(metrics);
  std::string line, last;
  while (std::getline(lines, line)) last = line;
  const nlohmann::json final_report = nlohmann::json::parse(last);
  EXPECT_EQ(final_report["event"], "final");
  EXPECT_EQ(final_report["config"]["precision"], "bf16") << last;
  const RunResult evaluated = test::run_shadowsync("eval --json --checkpoint '" + ckpt + "' --data '" + data_file() + "'");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  const nlohmann::json e = nlohmann::json::parse(evaluated.output.substr(evaluated.output.find('{')));
  EXPECT_LT(e["ne"].get<double>(), 1.0);
  std::filesystem::remove(ckpt);
  std::filesystem::remove(metrics);
}

}  // namespace
}  // namespace shadowsync
