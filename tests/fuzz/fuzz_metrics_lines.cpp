// Fuzz target: training-curve input, the metrics JSON lines (read_metrics_curves). Any bytes must
// either be read or be refused with shadowsync::Error (a nlohmann exception escaping is a
// finding); what is read must give a gnuplot script whose quoted strings hold no line break (a
// label from the file cannot add gnuplot commands).
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/metrics/training_curves.hpp"

using namespace shadowsync;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::ScratchFile scratch(fuzz::scratch_path("metrics", ".jsonl"));
  fuzz::write_file(scratch.path(), data, size);
  RunCurves run;
  try {
    run = read_metrics_curves(scratch.path());
  } catch (const Error&) {
    return 0;
  }
  if (run.eval_ne.size() != run.eval_auc.size() || run.train_logloss.size() != run.throughput.size()) {
    fuzz::fail("curves of one kind of line differ in length");
  }
  const std::string script = curves_gnuplot_script(std::vector<RunCurves>{run}, "/data", "/out.png");
  bool quoted = false;
  for (const char c : script) {
    if (c == '\'') quoted = !quoted;  // '' (an escaped quote) toggles twice
    if (quoted && (c == '\n' || c == '\r')) fuzz::fail("a line break inside a quoted gnuplot string");
  }
  return 0;
}
