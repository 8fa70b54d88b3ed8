// Data statistics (what `shadowsync stats` prints): positive rate, numeric missing share / mean /
// max of the transformed values, and per embedding table (categorical and multi-hot columns of the
// schema, feature order of feature_schema.hpp) the missing share and how many hashed rows are
// used. Computed over rows given piece by piece (StatsAccumulator), so a file of any size
// is summarized with bounded memory: compute_file_stats streams text files buffer by buffer and
// reads caches through their memory map.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/data/data_parts.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/data/hashing.hpp"

namespace shadowsync::data {

struct NumericColumnStats {
  std::optional<double> missing_share;  // unknown without the parse's missing counts
  double mean = 0.0;                    // over all rows, a missing value counting as 0
  float max = 0.0f;
};

struct SparseColumnStats {
  double missing_share = 0.0;  // share of rows with row 0 (missing) / an empty list (multi-hot)
  uint64_t distinct_rows = 0;  // distinct rows among 1..rows[t]-1 that some example uses
  double used_share = 0.0;     // distinct_rows / (rows[t] - 1)
};

struct DataStats {
  uint64_t rows = 0;
  double positive_rate = 0.0;
  std::vector<NumericColumnStats> numeric;  // one per numeric feature of the schema
  std::vector<SparseColumnStats> sparse;    // one per table of the schema
  std::vector<std::string> numeric_names;   // the schema's names ("I1".. for Criteo)
  std::vector<std::string> table_names;     // ("C1".. for Criteo; "tags" for a multi-hot table)
};

// Statistics of rows added view by view, in order. Memory: for each table a bitmap of its used
// rows, in pages of 4096 rows (512 bytes) made when a row of the page is first used, plus one
// pointer per page: at most rows[t] / 8 + rows[t] / 512 bytes a table (16 KiB + 256 bytes for
// 131,072 rows), never the rows themselves. Not thread-safe: one add() at a time
// (each add() runs in parallel inside).
class StatsAccumulator {
 public:
  // Criteo's layout (FeatureSchema::criteo()).
  explicit StatsAccumulator(const HashingConfig& hashing);
  // Rows of `schema`; hashing.rows has one entry per table of the schema (else Error).
  StatsAccumulator(const FeatureSchema& schema, const HashingConfig& hashing);
  ~StatsAccumulator();
  StatsAccumulator(const StatsAccumulator&) = delete;
  StatsAccumulator& operator=(const StatsAccumulator&) = delete;

  // Adds `rows` (of the schema's widths, else Error). A sparse value or list id >= its table's
  // size is an Error naming the row, counted over every row added so far ("data statistics: row
  // 12: C3 value 99 is out of range").
  void add(const DataView& rows);
  uint64_t rows() const;
  // The statistics of every row added. `numeric_missing`: missing counts per numeric column when
  // known (the parse's, or a cache's stored counts). Error when no row was added.
  DataStats finish(const std::optional<NumericMissing>& numeric_missing) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// `data`: one view or the parts of several files (not copied). Requires every sparse value <
// hashing.rows[t] (a validated view); Error for no rows.
DataStats compute_stats(const DataParts& data, const HashingConfig& hashing,
                        const std::optional<NumericMissing>& numeric_missing);
// The same for data of `schema`.
DataStats compute_stats(const DataParts& data, const FeatureSchema& schema, const HashingConfig& hashing,
                        const std::optional<NumericMissing>& numeric_missing);

// The statistics of several files read in order, as `stats` summarizes them.
struct FileStats {
  DataStats stats;
  ParseReport report;              // combined (file "a + b", summed counts), as Dataset::open_many
  std::vector<ParseReport> files;  // one per file
  bool all_caches = false;         // every file was a binary cache
};

// Reads `paths` in order (text of options.schema): a binary cache through its memory map (its hashing must equal
// options.hashing), anything else as a stream (plain, gzip or zstd text, "-" for standard
// input, a FIFO) parsed buffer by buffer (ParseOptions::stream_buffer_bytes) and never held whole:
// memory is two stream buffers, one buffer's rows and the accumulator's bitmaps, whatever the
// size of the files. `opening` (if set) is called before each file. Errors name the file.
FileStats compute_file_stats(const std::vector<std::string>& paths, const ParseOptions& options,
                             const OpeningFile& opening = {});

}  // namespace shadowsync::data
