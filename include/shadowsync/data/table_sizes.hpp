// Embedding table sizes from the data's statistics: the JSON that the statistics report writes
// (its hashing.rows_per_table and each sparse[t].distinct_rows), turned into sizes by
// tables_sized_for (hashing.hpp). Errors are shadowsync::Error naming the source and the field:
// "'stats.json': field 'sparse[3].distinct_rows' must be a non-negative integer".
#pragma once

#include <string>
#include <string_view>

#include "shadowsync/data/hashing.hpp"

namespace shadowsync {

// `text` is the statistics JSON; `source` names it in errors (a path, or "standard input").
// Refused: text that is not JSON, no 'hashing' object or 'sparse' field, a rows_per_table or
// sparse array without one entry per table, a table size out of range, a count that is not a
// non-negative integer, or a count of distinct rows not below its table's size. The result keeps
// hashing.salt (0 when absent).
HashingConfig tables_sized_from_stats_json(std::string_view text, const std::string& source);

// Reads the file at `path` (errors name it) and sizes its tables as above.
HashingConfig tables_sized_from_stats_file(const std::string& path);

}  // namespace shadowsync
