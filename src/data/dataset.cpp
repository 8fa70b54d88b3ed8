// Dataset: picks the cache or the TSV reader by the file's magic; split_eval_tail.
#include "shadowsync/data/dataset.hpp"

#include <fmt/format.h>

#include <sys/stat.h>

#include <algorithm>
#include <cmath>

#include "shadowsync/core/error.hpp"

namespace shadowsync {

Dataset Dataset::open(const std::string& path, const ParseOptions& options,
                      ParseReport* report) {
  Dataset dataset;
  dataset.path_ = path;
  if (has_cache_magic(path)) {
    MappedCache cache = MappedCache::open(path, options.hashing);
    dataset.schema_ = cache.schema();
    dataset.numeric_missing_ = cache.numeric_missing();
    if (report != nullptr) {
      *report = ParseReport{};
      report->file = path;
      report->rows = cache.rows();
      report->lines = cache.rows();
      report->numeric_missing = cache.numeric_missing();
    }
    dataset.storage_ = std::move(cache);
  } else {
    ParseReport local;
    dataset.schema_ = options.schema;
    dataset.storage_ = parse_criteo_file(path, options, &local);
    dataset.numeric_missing_ = local.numeric_missing;
    if (report != nullptr) *report = std::move(local);
  }
  return dataset;
}

void refuse_repeated_inputs(const std::vector<std::string>& paths) {
  struct Seen {
    dev_t dev;
    ino_t ino;
    const std::string* path;
  };
  std::vector<Seen> seen;
  const std::string* stdin_path = nullptr;
  for (const std::string& path : paths) {
    const std::string* first = nullptr;
    if (path == "-") {
      first = stdin_path;
      if (first == nullptr) stdin_path = &path;
    } else {
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) continue;  // its reader says why it cannot be read
      for (const Seen& s : seen) {
        if (s.dev == st.st_dev && s.ino == st.st_ino) first = s.path;
      }
      if (first == nullptr) seen.push_back({st.st_dev, st.st_ino, &path});
    }
    if (first != nullptr) {
      throw Error(fmt::format(
          "'{}' and '{}' are the same file{}: an input given twice would be read twice (its "
          "rows trained on twice, its held-out rows trained on); give each file once",
          *first, path, *first == path ? " (given twice)" : " (the same device and inode)"));
    }
  }
}

Dataset Dataset::open_many(const std::vector<std::string>& paths, const ParseOptions& options,
                           ParseReport* report, std::vector<ParseReport>* file_reports,
                           const OpeningFile& opening) {
  if (paths.empty()) throw Error(field("data") + ": no file given");
  refuse_repeated_inputs(paths);
  if (opening && paths.size() == 1) opening(0, 1, paths.front());
  if (paths.size() == 1) {
    ParseReport one;
    Dataset dataset = open(paths.front(), options, &one);
    if (file_reports != nullptr) file_reports->assign(1, one);
    if (report != nullptr) *report = std::move(one);
    return dataset;
  }
  ParseReport total;
  std::vector<Dataset> parts;
  for (const std::string& path : paths) {
    if (opening) opening(parts.size(), paths.size(), path);
    ParseReport one;
    parts.push_back(open(path, options, &one));  // one.numeric_missing: the parse's or the cache's
    const std::string difference = parts.front().schema_.first_difference(parts.back().schema_);
    if (!difference.empty()) {
      throw Error(fmt::format("{}: its schema differs from that of {}, files read together must have the same "
                              "columns: {}",
                              path, paths.front(), difference));
    }
    total.add_file(one);
    if (file_reports != nullptr) file_reports->push_back(std::move(one));
  }
  Dataset dataset;
  dataset.path_ = total.file;
  dataset.schema_ = parts.front().schema_;
  dataset.parts_ = std::move(parts);
  dataset.numeric_missing_ = total.numeric_missing;
  if (report != nullptr) *report = std::move(total);
  return dataset;
}

Dataset Dataset::from_block(DataBlock block, const FeatureSchema& schema) {
  Dataset dataset;
  dataset.schema_ = schema;
  dataset.path_ = "<memory>";
  dataset.storage_ = std::move(block);
  return dataset;
}

DataView Dataset::view() const {
  if (!parts_.empty()) {
    throw Error("dataset '" + path_ + "' has " + std::to_string(parts_.size()) +
                " files: read it through parts()");
  }
  return std::visit([](const auto& storage) { return storage.view(); }, storage_);
}

DataParts Dataset::parts() const {
  if (parts_.empty()) return DataParts(view());
  std::vector<DataView> views;
  for (const Dataset& part : parts_) views.push_back(part.view());
  return DataParts(views);
}

bool Dataset::is_cache() const {
  if (parts_.empty()) return std::holds_alternative<MappedCache>(storage_);
  return std::all_of(parts_.begin(), parts_.end(), [](const Dataset& d) { return d.is_cache(); });
}

namespace {

size_t eval_rows_of(size_t rows, double eval_fraction) {
  if (!(eval_fraction > 0.0 && eval_fraction < 1.0)) {
    throw Error(field("eval_fraction") +
                fmt::format(" must be strictly between 0 and 1, got {}", eval_fraction));
  }
  if (rows < 2) {
    throw Error(field("eval_fraction") +
                fmt::format(": cannot split {} rows into non-empty training and evaluation parts", rows));
  }
  const double wanted = std::round(static_cast<double>(rows) * eval_fraction);
  size_t eval_rows = wanted < 1.0 ? 1 : static_cast<size_t>(wanted);
  if (eval_rows > rows - 1) eval_rows = rows - 1;
  return eval_rows;
}

}  // namespace

std::pair<DataParts, DataView> split_eval_tail(const DataParts& all, double eval_fraction, DataBlock& eval_copy) {
  const size_t train_rows = all.rows() - eval_rows_of(all.rows(), eval_fraction);
  DataView eval;
  if (std::optional<DataView> view = all.contiguous(train_rows, all.rows())) {
    eval = *view;
  } else {
    eval_copy = all.copy(train_rows, all.rows());
    eval = eval_copy.view();
  }
  return {all.slice(0, train_rows), eval};
}

std::pair<DataView, DataView> split_eval_tail(DataView all, double eval_fraction) {
  const size_t train_rows = all.rows - eval_rows_of(all.rows, eval_fraction);
  return {all.slice(0, train_rows), all.slice(train_rows, all.rows)};
}

}  // namespace shadowsync
