// Helpers of the data tests: Criteo lines built field by field, a naive scalar reference of the
// transforms (independent of the parser's fast paths), and temporary files.
#pragma once

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "../common/temp_paths.hpp"
#include "shadowsync/data/feature_schema.hpp"
#include "shadowsync/data/hashing.hpp"

namespace shadowsync::test {

struct RawLine {
  int label = 0;
  std::vector<std::optional<int64_t>> numeric;    // up to 13; shorter = ragged line
  std::vector<std::optional<uint32_t>> sparse;  // up to 26
};

inline std::string format_line(const RawLine& raw) {
  std::string out = std::to_string(raw.label);
  for (const auto& d : raw.numeric) {
    out += '\t';
    if (d) out += std::to_string(*d);
  }
  char hex[16];
  for (const auto& s : raw.sparse) {
    out += "\t";
    if (s) {
      std::snprintf(hex, sizeof hex, "%08x", *s);
      out += hex;
    }
  }
  return out;
}

// `line` with empty fields appended up to `fields` fields (Criteo's 40): every line must have
// the schema's field count.
inline std::string pad_fields(std::string line, int fields = 1 + kNumNumeric + kNumSparse, char delimiter = '\t') {
  int have = 1;
  for (const char c : line) have += c == delimiter;
  for (; have < fields; ++have) line += delimiter;
  return line;
}

// A full line (13 + 26 fields) from a simple deterministic pattern; some values missing.
inline RawLine pattern_line(uint64_t i) {
  RawLine raw;
  raw.label = static_cast<int>(i % 3 == 0);
  for (int j = 0; j < kNumNumeric; ++j) {
    const uint64_t k = i * 31 + static_cast<uint64_t>(j) * 7;
    if (k % 11 == 0) {
      raw.numeric.push_back(std::nullopt);
    } else {
      raw.numeric.push_back(static_cast<int64_t>(k % 5000) - 3);
    }
  }
  for (int t = 0; t < kNumSparse; ++t) {
    const uint64_t k = i * 1000003 + static_cast<uint64_t>(t) * 17;
    if (k % 13 == 0) {
      raw.sparse.push_back(std::nullopt);
    } else {
      raw.sparse.push_back(static_cast<uint32_t>((k * 2654435761u) & 0xFFFFFFFFu));
    }
  }
  return raw;
}

// Naive references: the formulas of feature_transform.hpp, written out with 128-bit arithmetic.
inline uint64_t ref_mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
inline uint32_t ref_row(uint32_t value, int table, const HashingConfig& config) {
  const uint64_t key =
      ref_mix64(config.salt ^ (static_cast<uint64_t>(table) + 1) * 0x9E3779B97F4A7C15ull);
  const uint64_t h = ref_mix64(value ^ key);
  __extension__ using U128 = unsigned __int128;
  return 1 + static_cast<uint32_t>((static_cast<U128>(h) * (config.rows[table] - 1)) >> 64);
}
inline float ref_numeric(int64_t x) {
  return x > 0 ? static_cast<float>(std::log(1.0 + static_cast<double>(x))) : 0.0f;
}

// Expected (label, numeric[13], sparse[26]) of one raw line.
struct RefRow {
  float label;
  float numeric[kNumNumeric];
  uint32_t sparse[kNumSparse];
};
inline RefRow reference_row(const RawLine& raw, const HashingConfig& config) {
  RefRow r{};
  r.label = static_cast<float>(raw.label);
  for (size_t j = 0; j < raw.numeric.size(); ++j) {
    r.numeric[j] = raw.numeric[j] ? ref_numeric(*raw.numeric[j]) : 0.0f;
  }
  for (size_t t = 0; t < raw.sparse.size(); ++t) {
    r.sparse[t] = raw.sparse[t] ? ref_row(*raw.sparse[t], static_cast<int>(t), config) : 0;
  }
  return r;
}

// pattern_line(i) for i in [from, to) as text, with a bad line ("2\tbad") after every i with
// i % 500 == 7: the rows of several files and their concatenation in the multi-file tests.
inline std::string pattern_lines(uint64_t from, uint64_t to) {
  std::string text;
  for (uint64_t i = from; i < to; ++i) {
    text += format_line(pattern_line(i)) + "\n";
    if (i % 500 == 7) text += "2\tbad\n";
  }
  return text;
}

// Writes `rows` lines of pattern_line(i % 9973) to `path` in 1 MiB pieces (a large file for the
// bounded-memory tests, never held whole).
inline void write_pattern_file(const std::string& path, uint64_t rows) {
  std::ofstream out(path, std::ios::binary);
  std::string piece;
  for (uint64_t i = 0; i < rows; ++i) {
    piece += format_line(pattern_line(i % 9973)) + "\n";
    if (piece.size() > (1 << 20)) {
      out << piece;
      piece.clear();
    }
  }
  out << piece;
}

// This process's peak resident set so far, in KiB (getrusage).
inline long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}


// A non-Criteo schema of every column kind: click (label), price (numeric, identity), hour
// (numeric, log1p), site (categorical), tags (multi-hot, '|', at most 3 ids), note (ignored),
// app (categorical); string ids. Tables: 0 site, 1 app, 2 tags.
inline FeatureSchema mixed_schema(OverlongLists overlong = OverlongLists::Cut, bool header = false) {
  FeatureSchema s;
  s.hex_ids = false;
  s.header = header;
  s.overlong = overlong;
  const auto col = [](std::string name, ColumnKind kind) {
    SchemaColumn c;
    c.name = std::move(name);
    c.kind = kind;
    return c;
  };
  s.columns.push_back(col("click", ColumnKind::Label));
  s.columns.push_back(col("price", ColumnKind::Numeric));
  s.columns.back().transform = NumericTransformKind::Identity;
  s.columns.push_back(col("hour", ColumnKind::Numeric));
  s.columns.push_back(col("site", ColumnKind::Categorical));
  s.columns.push_back(col("tags", ColumnKind::MultiHot));
  s.columns.back().separator = '|';
  s.columns.back().max_length = 3;
  s.columns.push_back(col("note", ColumnKind::Ignored));
  s.columns.push_back(col("app", ColumnKind::Categorical));
  return s;
}

// Lines of mixed_schema (i-th line from a pattern; some values missing, lists of 0 to 5 items).
inline std::string mixed_line(uint64_t i) {
  std::string line = std::to_string(i % 3 == 0) + "\t";
  if (i % 5 != 0) line += std::to_string(static_cast<double>(i) * 0.25 - 3.0);
  line += "\t";
  if (i % 7 != 0) line += std::to_string(i % 100);
  line += "\t";
  if (i % 4 != 0) line += "site" + std::to_string(i % 17);
  line += "\t";
  for (uint64_t k = 0; k < i % 6; ++k) line += (k ? "|tag" : "tag") + std::to_string((i + k) % 23);
  line += "\tfree text " + std::to_string(i) + "\t";
  if (i % 9 != 0) line += "app" + std::to_string(i % 5);
  return line;
}

}  // namespace shadowsync::test
