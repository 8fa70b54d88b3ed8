// quality_text (see quality_text.hpp).
#include "quality_text.hpp"

#include <cmath>

#include <fmt/format.h>

namespace shadowsync::cli {

std::string quality_text(double ne, double logloss, double auc, double calibration) {
  const std::string ne_text =
      std::isnan(ne) ? std::string("NE undefined (the evaluated rows are all of one class)") : fmt::format("NE {:.5f}", ne);
  const std::string auc_text = std::isnan(auc) ? std::string("AUC undefined") : fmt::format("AUC {:.5f}", auc);
  return fmt::format("{}  logloss {:.5f}  {}  calibration {:.4f}", ne_text, logloss, auc_text, calibration);
}

}  // namespace shadowsync::cli
