// Dataset: the one entry point other modules call to get examples. Opens a raw Criteo TSV
// (parsed in parallel, see criteo_reader.hpp) or a binary cache (mmapped, see binary_cache.hpp),
// telling them apart by the cache magic, and owns the memory behind the DataView it hands out.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/data/data_block.hpp"
#include "shadowsync/data/data_parts.hpp"
#include "shadowsync/data/data_view.hpp"

namespace shadowsync {

// Told which file is about to be read: index (0-based), count, path.
using OpeningFile = std::function<void(size_t index, size_t count, const std::string& path)>;

class Dataset {
 public:
  // Opens `path`: a binary cache if it starts with the cache magic (its stored hashing must
  // equal options.hashing, else Error), otherwise a Criteo TSV parsed with `options`. `report`,
  // if given, receives the parse report (for a cache: file, rows and numeric_missing only).
  static Dataset open(const std::string& path, const ParseOptions& options,
                      ParseReport* report = nullptr);
  // Opens several files as one dataset, their rows in the given order (one file: open()). Each
  // is opened as open() does (caches must all match options.hashing; every file must have the
  // schema of the first, else Error naming the file and the first difference) and kept as it is: nothing
  // is copied, so caches stay memory-mapped and the memory is that of the parsed text files
  // only; parts() reads them as one sequence of rows. `report` gets the combined counts (file
  // "a + b + c", summed lines / rows / bad lines / missing, the first errors of all files);
  // `file_reports` (if given) one report per file.
  // The same file given twice is an Error (refuse_repeated_inputs).
  // `opening` (if set) is called before each file is opened, with its 0-based index, the number
  // of files and its path (a front end's progress display names the file being read).
  static Dataset open_many(const std::vector<std::string>& paths, const ParseOptions& options,
                           ParseReport* report = nullptr,
                           std::vector<ParseReport>* file_reports = nullptr,
                           const OpeningFile& opening = {});
  // Wraps examples built in memory (tests, generated data); path() is "<memory>". The schema is
  // Criteo's (the block's widths must then be Criteo's) unless given.
  static Dataset from_block(DataBlock block, const FeatureSchema& schema = FeatureSchema::criteo());

  Dataset(Dataset&&) noexcept = default;
  Dataset& operator=(Dataset&&) noexcept = default;
  Dataset(const Dataset&) = delete;
  Dataset& operator=(const Dataset&) = delete;

  // The rows as one view. Requires a dataset of one file (or from_block): for several files
  // use parts() (DataParts::copy joins them when a consumer needs one block); else Error.
  DataView view() const;
  // The rows of every file, in order, without copying.
  DataParts parts() const;
  size_t files() const { return parts_.empty() ? 1 : parts_.size(); }
  size_t rows() const { return parts().rows(); }
  const std::string& path() const { return path_; }
  bool is_cache() const;  // every file is a binary cache
  // The columns of the rows: the options' schema for text, the stored one for a cache.
  const FeatureSchema& schema() const { return schema_; }
  // Missing values per numeric column, when known (parsed or cached files; not from_block).
  const std::optional<std::vector<uint64_t>>& numeric_missing() const {
    return numeric_missing_;
  }

 private:
  Dataset() = default;
  std::string path_;
  FeatureSchema schema_ = FeatureSchema::criteo();
  std::variant<DataBlock, MappedCache> storage_;
  std::vector<Dataset> parts_;  // several files (open_many): storage_ is then unused
  std::optional<std::vector<uint64_t>> numeric_missing_;
};

// Throws Error when two of `paths` are the same file (same device and inode: another spelling of
// the path, a hard link or a symbolic link to it) or "-" (standard input) comes twice, naming both
// spellings: a file read twice would be trained on twice, and its held-out rows trained on.
// Called by every reader of several files (Dataset::open_many, convert_to_cache).
void refuse_repeated_inputs(const std::vector<std::string>& paths);

// Deterministic held-out tail: with e = clamp(round(rows * f), 1, rows - 1), the first rows - e
// rows for training and the last e for evaluation. Requires 0 < f < 1 (else Error naming
// the field eval_fraction) and rows >= 2 (else Error saying how many rows there are).
std::pair<DataView, DataView> split_eval_tail(DataView all, double eval_fraction);
// The same over parts. The evaluation rows are one view: a slice of the last part when it holds
// them all, else copied into `eval_copy` (which must then outlive the view).
std::pair<DataParts, DataView> split_eval_tail(const DataParts& all, double eval_fraction, DataBlock& eval_copy);

}  // namespace shadowsync
