// The CLI's eval line: values as numbers, NE and AUC "undefined" when the rows are one class.
#include "cli/quality_text.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "shadowsync/metrics/binary_metrics.hpp"

namespace shadowsync::cli {
namespace {

TEST(QualityText, Numbers) {
  EXPECT_EQ(quality_text(0.812346, 0.456781, 0.765432, 1.01234),
            "NE 0.81235  logloss 0.45678  AUC 0.76543  calibration 1.0123");
}

TEST(QualityText, OneClassRowsSayUndefined) {
  // Four negatives predicted 0.5: log loss ln 2, NE and AUC NaN, calibration 0.5 / 1e-7.
  BinaryMetrics m;
  for (int i = 0; i < 4; ++i) m.add_probability(0.5f, 0);
  EXPECT_EQ(quality_text(m.ne(), m.logloss(), m.auc(), m.calibration()),
            "NE undefined (the evaluated rows are all of one class)  logloss 0.69315  AUC undefined  "
            "calibration 5000000.0000");
}

}  // namespace
}  // namespace shadowsync::cli
