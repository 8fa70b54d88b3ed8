// choose_hashing: the hashing (embedding table sizes and salt) a front end reads training data
// with, one rule for the CLI's train and for Python (paths and arrays). `convert` is not under
// it: a cache is the long-lived format, and caches converted one by one (a file a day) must share
// their hashing to be trained together, so convert keeps the default unless told otherwise
// (--rows-per-table, --table-rows-from). The rule:
//   1. rows per table given: every table that size;
//   2. else, when a file is a binary cache: the first cache's own hashing (with another salt
//      given: the default size with that salt, which opening the cache then refuses, naming both);
//   3. else, when every file can be read twice (regular files: plain, gzip or zstd text), the
//      tables are sized to the data: the statistics of the files hashed at the default size
//      (kDefaultRowsPerTable), then tables_sized_for (hashing.hpp): each table the smallest power
//      of two >= 2 x its used rows + 1, a table that used half its rows or more keeping the
//      default size. A run on 2,000 rows gets tables of a few thousand rows instead of 131,072;
//      data of Criteo Kaggle's size keeps the default for its large tables;
//   4. else (standard input, a FIFO: read once) the default size.
// Errors (an unreadable file, a bad line under strict) name the file, as the readers do.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/data/hashing.hpp"

namespace shadowsync::data {

struct HashingChoice {
  enum class Source { Given, Cache, SizedToData, Default };
  HashingConfig hashing;
  Source source = Source::Default;
};

// `paths`: the training files in order; `rows_per_table`: the user's size (checked: Error naming
// rows_per_table when out of range); `salt`: the user's salt; `reading`: schema, strictness and
// delimiter for the statistics pass (its hashing is ignored). The hashing has one table per table
// of reading.schema (none for an all-numeric schema). `opening` (if set) is called before each file
// of the statistics pass.
HashingChoice choose_hashing(const std::vector<std::string>& paths, std::optional<uint64_t> rows_per_table,
                             uint64_t salt, const ParseOptions& reading, const OpeningFile& opening = {});

// One line saying what was chosen, e.g. "tables sized to the data: 26 tables of 8 to 4096 rows
// (the default: 131072)"; empty for Given.
std::string hashing_choice_text(const HashingChoice& choice);

}  // namespace shadowsync::data
