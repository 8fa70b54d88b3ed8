// Training curves: the metrics JSON lines of runs (`shadowsync train --metrics`, the dicts of the
// Python callback) read into curves, and drawn with gnuplot into one PNG: eval NE, training NE
// (running; training log loss for files written before lines carried "running_ne"), eval AUC
// and throughput against examples trained, several runs overlaid, each labelled with its sync
// mode and group count (the file name when the lines do not say).
//
// Contract:
//  - read_metrics_curves(path) reads every line of the file; a line that is not a JSON object
//    with a numeric "examples" (or whose "examples_per_second", "running_logloss", "running_ne",
//    "ne", "auc"
//    are neither numbers nor null) throws CurvesInputError naming path:line and what is wrong.
//    Blank lines are skipped; a file without lines is refused (CurvesInputError); a file that
//    cannot be read throws Error naming it.
//  - plot_training_curves(paths, out, gnuplot) writes a gnuplot script and the data to a private
//    temporary folder, runs `gnuplot` (a program name looked up on PATH, or a path), and moves
//    the picture to `out` (written next to it, then renamed). An output that is one of the inputs
//    is refused (Error). gnuplot missing, or failing, throws CurvesToolError with its message.
//    pngcairo is used when gnuplot has it, else its png terminal.
//  - Library code: prints nothing; the temporary folder is removed in every case.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "shadowsync/core/error.hpp"

namespace shadowsync {

// A metrics line that is not what runs write (names path:line).
class CurvesInputError : public Error {
 public:
  using Error::Error;
};

// gnuplot is missing or failed.
class CurvesToolError : public Error {
 public:
  using Error::Error;
};

struct CurvePoint {
  double examples = 0;
  std::optional<double> value;  // nullopt: not reported at this point (null in the line)
};

struct RunCurves {
  std::string path;
  std::string label;                    // "s-pa, 4 groups (run.jsonl)", or the file name alone
  std::vector<CurvePoint> eval_ne;      // eval and final lines with an evaluation
  std::vector<CurvePoint> eval_auc;
  std::vector<CurvePoint> train_logloss;  // running_logloss of every line that has it or a rate
  std::vector<CurvePoint> train_ne;       // running_ne of the same lines
  std::vector<CurvePoint> throughput;     // examples_per_second of the same lines (none at 0 examples)
};

RunCurves read_metrics_curves(const std::string& path);

// The gnuplot script for `runs`, reading data files data_dir/run<i>_eval.dat and
// data_dir/run<i>_progress.dat (written by write_curve_data) and writing png_path.
std::string curves_gnuplot_script(const std::vector<RunCurves>& runs, const std::string& data_dir,
                                  const std::string& png_path);
void write_curve_data(const std::vector<RunCurves>& runs, const std::string& data_dir);

void plot_training_curves(const std::vector<std::string>& paths, const std::string& out,
                          const std::string& gnuplot = "gnuplot");

}  // namespace shadowsync
