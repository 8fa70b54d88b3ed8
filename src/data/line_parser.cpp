// LineError::describe(): the human-readable reason of a bad line (cold path); SchemaLineParser,
// the line parser of any schema.
#include "line_parser.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "shadowsync/core/error.hpp"

namespace shadowsync::data {
namespace {

// The field's text, quoted, at most 24 bytes, with non-printable bytes as \xNN.
std::string quoted(const char* b, const char* e) {
  constexpr ptrdiff_t kShown = 24;
  std::string out = "'";
  for (const char* p = b; p != std::min(e, b + kShown); ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c >= 0x7F) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (e - b > kShown) out += "...";
  return out + "'";
}

std::string field_name(int field, const FeatureSchema* schema) {
  if (schema != nullptr) {
    return fmt::format("{} (field {})", schema->columns[size_t(field)].name, field + 1);
  }
  if (field == 0) return "label";
  if (field <= kNumNumeric) return fmt::format("I{} (field {})", field, field + 1);
  return fmt::format("C{} (field {})", field - kNumNumeric, field + 1);
}

}  // namespace

std::string too_long_reason(size_t bytes) {
  return fmt::format("line of {} bytes is longer than the limit of {} bytes", bytes, kMaxLineBytes);
}

std::string LineError::describe() const {
  switch (kind) {
    case BadLine::kNone:
      return "no error";
    case BadLine::kEmpty:
      return "empty line";
    case BadLine::kTooLong:
      return too_long_reason(static_cast<size_t>(line_end - line_begin));
    case BadLine::kNul: {
      const void* nul = std::memchr(line_begin, '\0', static_cast<size_t>(line_end - line_begin));
      return fmt::format("NUL byte at column {}", static_cast<const char*>(nul) - line_begin + 1);
    }
    case BadLine::kLabel:
      return fmt::format("label {} is not 0 or 1", quoted(field_begin, field_end));
    case BadLine::kIntSyntax:
      return fmt::format("{}: {} is not an integer", field_name(field, schema),
                         quoted(field_begin, field_end));
    case BadLine::kIntRange:
      return fmt::format("{}: {} does not fit in a 64-bit signed integer", field_name(field, schema),
                         quoted(field_begin, field_end));
    case BadLine::kHexSyntax:
      return fmt::format("{}: {} is not a hexadecimal value", field_name(field, schema),
                         quoted(field_begin, field_end));
    case BadLine::kHexTooLong:
      return fmt::format("{}: {} has {} hex digits, at most 8 allowed", field_name(field, schema),
                         quoted(field_begin, field_end), field_end - field_begin);
    case BadLine::kFieldCount: {
      const auto tabs = std::count(line_begin, line_end, delimiter);
      return fmt::format("wrong number of fields: {}, the schema has {}", tabs + 1,
                         expected_fields);
    }
    case BadLine::kNumberSyntax:
      return fmt::format("{}: {} is not a decimal number", field_name(field, schema),
                         quoted(field_begin, field_end));
    case BadLine::kNumberRange:
      return fmt::format("{}: {} is not a finite number below 1e30 in magnitude",
                         field_name(field, schema), quoted(field_begin, field_end));
    case BadLine::kEmptyItem:
      return fmt::format("{}: {} has an empty item", field_name(field, schema),
                         quoted(field_begin, field_end));
    case BadLine::kListTooLong:
      return fmt::format("{}: list of {} items is longer than its max_length {}",
                         field_name(field, schema), items,
                         schema != nullptr ? schema->columns[size_t(field)].max_length == 0
                                                 ? FeatureSchema::kDefaultMaxLength
                                                 : schema->columns[size_t(field)].max_length
                                           : 0u);
    case BadLine::kIncompleteLastLine: {
      if (field != 0) {  // a complete field count, but a short last id
        return fmt::format("last line has no newline and is incomplete: {} {} has {} hex digits, "
                           "Criteo ids have 8: the input ends in the middle of a row",
                           field_name(field, schema), quoted(field_begin, field_end),
                           field_end - field_begin);
      }
      const auto tabs = std::count(line_begin, line_end, delimiter);
      return fmt::format("last line has no newline and is incomplete ({} fields): the input ends "
                         "in the middle of a row",
                         tabs + 1);
    }
  }
  return "unknown error";
}

SchemaLineParser::SchemaLineParser(const FeatureSchema& schema, const CategoryHasher& hasher,
                                   const NumericTransform& numeric, char delimiter)
    : schema_(schema),
      hasher_(hasher),
      numeric_transform_(numeric),
      delim_(delimiter),
      hex_ids_(schema.hex_ids),
      refuse_overlong_(schema.overlong == OverlongLists::Refuse) {
  const int sparse = schema.categorical_count();
  int numeric_j = 0, table = 0, multi = 0;
  for (size_t c = 0; c < schema.columns.size(); ++c) {
    const SchemaColumn& col = schema.columns[c];
    Column out{col.kind, col.transform, 0, 0, col.separator, 0};
    switch (col.kind) {
      case ColumnKind::Numeric:
        out.index = numeric_j++;
        break;
      case ColumnKind::Categorical:
        out.index = table++;
        break;
      case ColumnKind::MultiHot:
        if (col.separator == delimiter) {
          throw Error(fmt::format("{}: column {} ({}): its list separator '{}' is the field "
                                  "delimiter",
                                  field("schema"), c + 1, col.name, col.separator));
        }
        out.multi = multi;
        out.index = sparse + multi;
        out.max_length = schema.max_length(multi);
        ++multi;
        break;
      default:
        break;
    }
    columns_.push_back(out);
  }
}

bool SchemaLineParser::fail(LineError* error, BadLine kind, int field, const char* fb,
                            const char* fe, const char* b, const char* e) const {
  *error = LineError{kind, field, fb, fe, b, e, delim_};
  error->expected_fields = schema_.field_count();
  error->schema = &schema_;
  return false;
}

bool SchemaLineParser::category_value(const char* p, const char* q, uint32_t* value,
                                      BadLine* kind) const {
  if (!hex_ids_) {
    *value = string_id(std::string_view(p, static_cast<size_t>(q - p)));
    return true;
  }
  uint32_t v = 0;
  for (const char* r = p; r != q; ++r) {
    const uint8_t d = kHex.value[static_cast<unsigned char>(*r)];
    if (d > 15) {
      *kind = BadLine::kHexSyntax;
      return false;
    }
    v = (v << 4) | d;
  }
  if (q - p > 8) {
    *kind = BadLine::kHexTooLong;
    return false;
  }
  *value = v;
  return true;
}

bool SchemaLineParser::parse(const char* b, const char* e, float* label, float* numeric,
                             uint32_t* sparse, std::vector<uint32_t>& ids, uint64_t* ends,
                             uint8_t* missing, bool* cut, LineError* error) const {
  if (b == e) return fail(error, BadLine::kEmpty, 0, b, e, b, e);
  if (static_cast<size_t>(e - b) > kMaxLineBytes) return fail(error, BadLine::kTooLong, 0, b, e, b, e);
  if (std::memchr(b, '\0', static_cast<size_t>(e - b)) != nullptr) {
    return fail(error, BadLine::kNul, 0, b, e, b, e);
  }
  const char* p = b;
  bool any_cut = false;
  for (size_t c = 0; c < columns_.size(); ++c) {
    if (c > 0) {
      if (p == e) return fail(error, BadLine::kFieldCount, 0, b, e, b, e);
      ++p;  // the delimiter ending the previous field
    }
    const void* d = std::memchr(p, delim_, static_cast<size_t>(e - p));
    const char* q = d != nullptr ? static_cast<const char*>(d) : e;  // [p, q): the field
    const Column& col = columns_[c];
    const int f = static_cast<int>(c);
    switch (col.kind) {
      case ColumnKind::Label:
        if (q - p != 1 || (*p != '0' && *p != '1')) return fail(error, BadLine::kLabel, f, p, q, b, e);
        *label = static_cast<float>(*p - '0');
        break;
      case ColumnKind::Numeric: {
        if (p == q) {
          numeric[col.index] = 0.0f;
          missing[col.index] = 1;
          break;
        }
        missing[col.index] = 0;
        if (col.transform == NumericTransformKind::Identity) {
          double x = 0.0;
          const auto [end, ec] = std::from_chars(p, q, x);
          if (end != q || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
            return fail(error, BadLine::kNumberSyntax, f, p, q, b, e);
          }
          const float v = static_cast<float>(x);
          if (ec != std::errc() || !std::isfinite(x) || !(std::fabs(static_cast<double>(v)) < 1e30)) {
            return fail(error, BadLine::kNumberRange, f, p, q, b, e);
          }
          numeric[col.index] = v;
          break;
        }
        const bool negative = *p == '-';
        const char* digits = p + negative;
        const char* r = digits;
        uint64_t v = 0;
        while (r != q && static_cast<unsigned>(*r - '0') < 10u) {
          v = v * 10 + static_cast<unsigned>(*r - '0');
          ++r;
        }
        if (r == digits || r != q) return fail(error, BadLine::kIntSyntax, f, p, q, b, e);
        int64_t x;
        if (r - digits <= 18) {
          x = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
        } else {
          const auto [end, ec] = std::from_chars(p, q, x);
          if (ec != std::errc() || end != q) return fail(error, BadLine::kIntRange, f, p, q, b, e);
        }
        numeric[col.index] = numeric_transform_(x);
        break;
      }
      case ColumnKind::Categorical: {
        if (p == q) {
          sparse[col.index] = kMissingRow;
          break;
        }
        uint32_t v = 0;
        BadLine kind = BadLine::kNone;
        if (!category_value(p, q, &v, &kind)) return fail(error, kind, f, p, q, b, e);
        sparse[col.index] = hasher_.row(col.index, v);
        break;
      }
      case ColumnKind::MultiHot: {
        uint64_t items = 0;
        if (p != q) {
          const char* item = p;
          for (;;) {
            const void* s = std::memchr(item, col.separator, static_cast<size_t>(q - item));
            const char* item_end = s != nullptr ? static_cast<const char*>(s) : q;
            if (item == item_end) return fail(error, BadLine::kEmptyItem, f, p, q, b, e);
            uint32_t v = 0;
            BadLine kind = BadLine::kNone;
            if (!category_value(item, item_end, &v, &kind)) {
              return fail(error, kind, f, item, item_end, b, e);
            }
            if (++items <= col.max_length) ids.push_back(hasher_.row(col.index, v));
            if (s == nullptr) break;
            item = item_end + 1;
          }
        }
        if (items > col.max_length) {
          if (refuse_overlong_) {
            fail(error, BadLine::kListTooLong, f, p, q, b, e);
            error->items = items;
            return false;
          }
          any_cut = true;
        }
        ends[col.multi] = ids.size();
        break;
      }
      case ColumnKind::Ignored:
        break;
    }
    p = q;
  }
  if (p != e) return fail(error, BadLine::kFieldCount, 0, b, e, b, e);
  *cut = any_cut;
  return true;
}

}  // namespace shadowsync::data
