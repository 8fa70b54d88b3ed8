// The teacher's NE on exactly the rows `train` / `eval` evaluate, when the data was made by
// `gen` (see include/shadowsync/synthetic/synthetic.hpp): found, scored and shown the same way
// by both commands, so that "NE / teacher" compares figures on the same rows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "shadowsync/data/data_view.hpp"
#include "shadowsync/synthetic/synthetic.hpp"

namespace shadowsync::cli {

// The teacher's score on `rows`, which are rows [first_row, first_row + rows.rows) of the file
// `path` of `file_rows` rows. nullopt when the file has no generator summary, or (after a
// warning on stderr saying why) when its summary does not describe it.
std::optional<TeacherScore> teacher_on_rows(const std::string& path, uint64_t file_rows, uint64_t first_row,
                                            const DataView& rows);

// {"rows", "first_row", "positives", "logloss", "ne"} (NaN as null).
nlohmann::json teacher_json(const TeacherScore& teacher);

// "teacher on the same N rows: NE x  logloss y  (NE / teacher z)" for a model NE `model_ne`.
std::string teacher_line(const TeacherScore& teacher, double model_ne);

}  // namespace shadowsync::cli
