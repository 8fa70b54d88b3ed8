// The teacher's NE on the evaluated rows, for `train` and `eval` (see teacher_report.hpp).
#include "teacher_report.hpp"

#include <cmath>
#include <cstdio>
#include <span>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"

namespace shadowsync::cli {
namespace {

nlohmann::json finite_or_null(double value) { return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr); }

}  // namespace

std::optional<TeacherScore> teacher_on_rows(const std::string& path, uint64_t file_rows, uint64_t first_row,
                                            const DataView& rows) {
  if (rows.rows == 0) return std::nullopt;
  try {
    return score_teacher_for_data(path, file_rows, first_row, std::span<const float>(rows.labels, rows.rows));
  } catch (const Error& e) {
    std::fprintf(stderr, "shadowsync: warning: no teacher NE for the evaluated rows: %s\n", e.what());
    return std::nullopt;
  }
}

nlohmann::json teacher_json(const TeacherScore& teacher) {
  return {{"rows", teacher.rows},
          {"first_row", teacher.first_row},
          {"positives", teacher.positives},
          {"logloss", finite_or_null(teacher.logloss)},
          {"ne", finite_or_null(teacher.ne)}};
}

std::string teacher_line(const TeacherScore& teacher, double model_ne) {
  if (!std::isfinite(teacher.ne)) {
    return fmt::format("teacher on the same {} rows: NE undefined (every label is the same)  logloss {:.5f}",
                       teacher.rows, teacher.logloss);
  }
  return fmt::format("teacher on the same {} rows: NE {:.5f}  logloss {:.5f}  (NE / teacher {:.4f})", teacher.rows,
                     teacher.ne, teacher.logloss, model_ne / teacher.ne);
}

}  // namespace shadowsync::cli
