// LineError::describe(): the human-readable reason of a bad Criteo line (cold path).
#include "line_parser.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>

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

std::string field_name(int field) {
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
      return fmt::format("{}: {} is not an integer", field_name(field),
                         quoted(field_begin, field_end));
    case BadLine::kIntRange:
      return fmt::format("{}: {} does not fit in a 64-bit signed integer", field_name(field),
                         quoted(field_begin, field_end));
    case BadLine::kHexSyntax:
      return fmt::format("{}: {} is not a hexadecimal value", field_name(field),
                         quoted(field_begin, field_end));
    case BadLine::kHexTooLong:
      return fmt::format("{}: {} has {} hex digits, at most 8 allowed", field_name(field),
                         quoted(field_begin, field_end), field_end - field_begin);
    case BadLine::kTooManyFields: {
      const auto tabs = std::count(line_begin, line_end, delimiter);
      return fmt::format("{} fields, at most {} allowed", tabs + 1, kMaxFields);
    }
    case BadLine::kIncompleteLastLine: {
      if (field != 0) {  // a complete field count, but a short last id
        return fmt::format("last line has no newline and is incomplete: {} {} has {} hex digits, "
                           "Criteo ids have 8: the input ends in the middle of a row",
                           field_name(field), quoted(field_begin, field_end),
                           field_end - field_begin);
      }
      const auto tabs = std::count(line_begin, line_end, delimiter);
      return fmt::format("last line has no newline and is incomplete ({} fields): the input ends "
                         "in the middle of a row", tabs + 1);
    }
  }
  return "unknown error";
}

}  // namespace shadowsync::data
