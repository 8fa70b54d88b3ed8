// The CLI's one-line rendering of evaluation quality (NE, log loss, AUC, calibration), shared by
// `shadowsync train` (eval lines) and `shadowsync eval`: NE and AUC print "undefined" when the
// evaluated rows are all of one class (BinaryMetrics reports NaN there).
#pragma once

#include <string>

namespace shadowsync::cli {

// "NE 0.81234  logloss 0.45678  AUC 0.76543  calibration 1.0123", or with NaN NE/AUC:
// "NE undefined (the evaluated rows are all of one class)  logloss 0.69315  AUC undefined  calibration ...".
std::string quality_text(double ne, double logloss, double auc, double calibration);

}  // namespace shadowsync::cli
