// SchemaRowSampler (see schema_rows.hpp): draws a row column by column from one random stream
// and writes it in the schema's layout.
#include "schema_rows.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "scramble.hpp"

namespace shadowsync::synthetic {
namespace {

constexpr double kMaxValue = 2147483647.0;

// Poisson(lambda): by multiplication of uniforms up to lambda 30, beyond that the normal
// approximation (the product of uniforms would underflow for long lists).
uint32_t poisson(Rng& rng, double lambda) {
  if (lambda > 30) return static_cast<uint32_t>(std::max(0.0, std::round(lambda + std::sqrt(lambda) * rng.normal())));
  const double limit = std::exp(-lambda);
  uint32_t k = 0;
  for (double p = rng.uniform(); p > limit; p *= rng.uniform()) ++k;
  return k;
}

void append_hex(std::string& out, uint64_t value, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) out.push_back(kHex[(value >> shift) & 0xF]);
}

}  // namespace

double schema_numeric_feature(const SyntheticSpec& spec, const SchemaRow& row, int j) {
  if (row.numeric_missing[static_cast<size_t>(j)]) return 0.0;
  const double x = row.numeric[static_cast<size_t>(j)];
  if (spec.schema.columns[static_cast<size_t>(spec.schema.numeric_column(j))].transform == NumericTransformKind::Identity) {
    return x;
  }
  return x <= 0 ? 0.0 : std::log1p(x);
}

SchemaRowSampler::SchemaRowSampler(const SyntheticSpec& spec) : spec_(spec) {
  spec_.validate("synthetic spec");
  const FeatureSchema& schema = spec_.schema;
  for (int j = 0; j < schema.numeric_count(); ++j) numeric_columns_.push_back(schema.numeric_column(j));
  for (int t = 0; t < schema.table_count(); ++t) {
    table_columns_.push_back(schema.table_column(t));
    const SyntheticColumnSpec& c = spec_.columns[static_cast<size_t>(table_columns_.back())];
    zipf_.emplace_back(c.values, c.zipf);
  }
  categorical_ = schema.categorical_count();
}

void SchemaRowSampler::sample(Rng& rng, SchemaRow& row) const {
  const FeatureSchema& schema = spec_.schema;
  row.numeric.resize(numeric_columns_.size());
  row.numeric_missing.resize(numeric_columns_.size());
  row.rank.resize(static_cast<size_t>(categorical_));
  row.lists.resize(table_columns_.size() - static_cast<size_t>(categorical_));
  row.ignored.clear();
  int j = 0, t = 0, m = 0;  // numeric feature, categorical table, multi-hot feature
  // Column by column in the schema's order, so the stream's use follows the line.
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    const SchemaColumn& column = schema.columns[i];
    const SyntheticColumnSpec& c = spec_.columns[i];
    switch (column.kind) {
      case ColumnKind::Label:
        break;
      case ColumnKind::Ignored:
        row.ignored.push_back(rng.next());
        break;
      case ColumnKind::Numeric: {
        const bool missing = rng.uniform() < c.missing;
        row.numeric_missing[static_cast<size_t>(j)] = missing ? 1 : 0;
        double value = 0;
        if (!missing) {
          const double normal = rng.normal();
          if (column.transform == NumericTransformKind::Identity) {
            value = std::round((c.mu + c.sigma * normal) * 1e4) / 1e4;  // as written, 4 decimals
          } else {
            value = std::min(std::floor(std::exp(c.mu + c.sigma * normal)), kMaxValue);
          }
        }
        row.numeric[static_cast<size_t>(j)] = value;
        ++j;
        break;
      }
      case ColumnKind::Categorical: {
        const bool missing = rng.uniform() < c.missing;
        row.rank[static_cast<size_t>(t)] = missing ? 0 : static_cast<uint32_t>(zipf_[static_cast<size_t>(t)].sample(rng));
        ++t;
        break;
      }
      case ColumnKind::MultiHot: {
        std::vector<uint32_t>& list = row.lists[static_cast<size_t>(m)];
        list.clear();
        if (!(rng.uniform() < c.missing)) {
          const uint32_t max_length = column.max_length == 0 ? FeatureSchema::kDefaultMaxLength : column.max_length;
          const uint32_t length = std::min<uint32_t>(1 + poisson(rng, c.mean_length - 1), max_length);
          for (uint32_t k = 0; k < length; ++k) {
            list.push_back(static_cast<uint32_t>(zipf_[static_cast<size_t>(categorical_ + m)].sample(rng)));
          }
        }
        ++m;
        break;
      }
    }
  }
}

void SchemaRowSampler::append_line(std::string& out, int label, const SchemaRow& row) const {
  const FeatureSchema& schema = spec_.schema;
  int j = 0, t = 0, m = 0, k = 0;  // numeric, categorical, multi-hot, ignored
  char digits[32];
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    if (i > 0) out.push_back(spec_.delimiter);
    const SchemaColumn& column = schema.columns[i];
    const int column_index = static_cast<int>(i);
    switch (column.kind) {
      case ColumnKind::Label:
        out.push_back(label ? '1' : '0');
        break;
      case ColumnKind::Ignored:
        append_hex(out, row.ignored[static_cast<size_t>(k++)], 16);
        break;
      case ColumnKind::Numeric: {
        const size_t f = static_cast<size_t>(j++);
        if (row.numeric_missing[f]) break;
        if (column.transform == NumericTransformKind::Identity) {
          out += fmt::format("{:.4f}", row.numeric[f]);
        } else {
          const auto end = std::to_chars(digits, digits + sizeof digits, static_cast<int64_t>(row.numeric[f])).ptr;
          out.append(digits, end);
        }
        break;
      }
      case ColumnKind::Categorical: {
        const uint32_t rank = row.rank[static_cast<size_t>(t++)];
        if (rank != 0) append_hex(out, categorical_value(column_index, rank), 8);
        break;
      }
      case ColumnKind::MultiHot: {
        const std::vector<uint32_t>& list = row.lists[static_cast<size_t>(m++)];
        for (size_t n = 0; n < list.size(); ++n) {
          if (n > 0) out.push_back(column.separator);
          append_hex(out, categorical_value(column_index, list[n]), 8);
        }
        break;
      }
    }
  }
  out.push_back('\n');
}

std::string SchemaRowSampler::header_line() const {
  std::string out;
  for (size_t i = 0; i < spec_.schema.columns.size(); ++i) {
    if (i > 0) out.push_back(spec_.delimiter);
    out += spec_.schema.columns[i].name;
  }
  out.push_back('\n');
  return out;
}

}  // namespace shadowsync::synthetic
