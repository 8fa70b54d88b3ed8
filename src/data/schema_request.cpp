// SchemaRequest resolution (see schema_request.hpp): the stated lists checked against the header
// names or the positions, the JSON schema file, the first line of a data file, hashing_for.
#include "shadowsync/data/schema_request.hpp"

#include <sys/stat.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <system_error>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "input_stream.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/core/untrusted_json.hpp"
#include "shadowsync/data/binary_cache.hpp"

namespace shadowsync {
namespace {


struct Named {
  std::string name;
  std::string list;  // the field that names the column
  SchemaColumn column;
};

std::optional<uint64_t> parse_count(std::string_view text) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

std::vector<std::string> split_colon(const std::string& item) { return split_fields(item, ':'); }

SchemaColumn numeric_column(const std::string& item, std::string* name) {
  SchemaColumn c;
  c.kind = ColumnKind::Numeric;
  const size_t colon = item.rfind(':');
  *name = item;
  if (colon != std::string::npos) {
    const std::string transform = item.substr(colon + 1);
    if (transform == "log1p") {
      c.transform = NumericTransformKind::Log1p;
    } else if (transform == "identity") {
      c.transform = NumericTransformKind::Identity;
    } else {
      throw Error(fmt::format("{}: '{}': the transform after ':' must be log1p or identity, got '{}'",
                              field("numeric"), item, transform));
    }
    *name = item.substr(0, colon);
  }
  return c;
}

SchemaColumn multi_hot_column(const std::string& item, std::string* name) {
  const std::string form = "NAME:SEP[:MAX_LENGTH[:sum|mean]]";
  const std::vector<std::string> parts = split_colon(item);
  // A ':' separator is written "NAME:::..." (an empty part between two colons stands for it).
  std::vector<std::string> p = parts;
  if (p.size() >= 3 && p[1].empty() && p[2].empty()) {
    p.erase(p.begin() + 2);
    p[1] = ":";
  }
  if (p.size() < 2 || p.size() > 4) {
    throw Error(fmt::format("{}: '{}' is not {}", field("multi_hot"), item, form));
  }
  SchemaColumn c;
  c.kind = ColumnKind::MultiHot;
  *name = p[0];
  if (p[1] == "space") p[1] = " ";
  if (p[1] == "comma") p[1] = ",";
  if (p[1].size() != 1) {
    throw Error(fmt::format("{}: '{}': the separator must be one character (or 'space'), got '{}'",
                            field("multi_hot"), item, p[1]));
  }
  c.separator = p[1][0];
  c.max_length = FeatureSchema::kDefaultMaxLength;
  if (p.size() >= 3) {
    const std::optional<uint64_t> max = parse_count(p[2]);
    if (!max || *max < 1 || *max > FeatureSchema::kMaxMaxLength) {
      throw Error(fmt::format("{}: '{}': the maximum length must be an integer in 1..{}, got '{}'",
                              field("multi_hot"), item, FeatureSchema::kMaxMaxLength, p[2]));
    }
    c.max_length = static_cast<uint32_t>(*max);
  }
  if (p.size() == 4) {
    if (p[3] == "sum") {
      c.pooling = Pooling::Sum;
    } else if (p[3] == "mean") {
      c.pooling = Pooling::Mean;
    } else {
      throw Error(fmt::format("{}: '{}': the pooling must be sum or mean, got '{}'", field("multi_hot"),
                              item, p[3]));
    }
  }
  return c;
}

std::string list_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 8; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 8) out += fmt::format(", ... ({} columns)", names.size());
  return out;
}

void refuse_with_file(const SchemaRequest& r) {
  const std::pair<bool, const char*> others[] = {
      {r.header, "header"},         {r.label.has_value(), "label"}, {!r.numeric.empty(), "numeric"},
      {!r.categorical.empty(), "categorical"}, {!r.multi_hot.empty(), "multi_hot"},
      {!r.ignore.empty(), "ignore"}, {r.hex_ids.has_value(), "hex_ids"}};
  for (const auto& [given, name] : others) {
    if (given) {
      throw Error(fmt::format("{}: a schema file states every column and rule; {} cannot be given with it",
                              field("schema"), field(name)));
    }
  }
}

}  // namespace

bool SchemaRequest::states_columns() const {
  return header || label.has_value() || !numeric.empty() || !categorical.empty() || !multi_hot.empty() ||
         !ignore.empty() || !schema_file.empty();
}

std::vector<std::string> split_fields(const std::string& line, char delimiter) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (true) {
    const size_t end = line.find(delimiter, begin);
    if (end == std::string::npos) {
      out.push_back(line.substr(begin));
      return out;
    }
    out.push_back(line.substr(begin, end - begin));
    begin = end + 1;
  }
}

FeatureSchema read_schema_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: {}: cannot read the schema file", field("schema"), path));
  std::ostringstream text;
  text << in.rdbuf();
  const nlohmann::json j = parse_untrusted_json(text.str(), path);
  return FeatureSchema::from_json(j, path);
}

FeatureSchema resolve_schema(const SchemaRequest& request,
                             const std::optional<std::vector<std::string>>& header_names,
                             std::optional<int> field_count) {
  if (!request.schema_file.empty()) {
    refuse_with_file(request);
    return read_schema_file(request.schema_file);
  }
  if (!request.states_columns()) {
    FeatureSchema criteo = FeatureSchema::criteo();
    criteo.hex_ids = request.hex_ids.value_or(true);
    return criteo;
  }
  if (!request.label || request.label->empty()) {
    throw Error(field("label") + ": required when the columns are stated (the name of the 0/1 click column)");
  }
  // Every stated name with the list naming it, in the order given.
  std::vector<Named> named;
  named.push_back({*request.label, "label", SchemaColumn{.kind = ColumnKind::Label}});
  for (const std::string& item : request.numeric) {
    Named n{.list = "numeric"};
    n.column = numeric_column(item, &n.name);
    named.push_back(n);
  }
  for (const std::string& item : request.categorical) {
    named.push_back({item, "categorical", SchemaColumn{.kind = ColumnKind::Categorical}});
  }
  for (const std::string& item : request.multi_hot) {
    Named n{.list = "multi_hot"};
    n.column = multi_hot_column(item, &n.name);
    named.push_back(n);
  }
  for (const std::string& item : request.ignore) {
    named.push_back({item, "ignore", SchemaColumn{.kind = ColumnKind::Ignored}});
  }
  // The columns' names: the header's, or positions.
  std::vector<std::string> names;
  if (request.header) {
    if (!header_names) throw Error(field("header") + ": the data's header line was not read");
    names = *header_names;
    if (field_count && *field_count != int(names.size())) {
      throw Error(fmt::format("{}: the header names {} columns, the data's lines have {} fields", field("header"),
                              names.size(), *field_count));
    }
    std::map<std::string, size_t> seen;
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i].empty()) throw Error(fmt::format("{}: column {} of the header has no name", field("header"), i));
      if (const auto [it, fresh] = seen.emplace(names[i], i); !fresh) {
        throw Error(fmt::format("{}: the header names columns {} and {} '{}'", field("header"), it->second, i,
                                names[i]));
      }
    }
  } else {
    int count = 0;
    if (field_count) {
      count = *field_count;
    } else {
      for (const Named& n : named) {
        const std::optional<uint64_t> at = parse_count(n.name);
        if (at && *at < 100000) count = std::max(count, int(*at) + 1);
      }
    }
    for (int i = 0; i < count; ++i) names.push_back(std::to_string(i));
  }
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < names.size(); ++i) index.emplace(names[i], i);
  std::vector<const Named*> by_column(names.size(), nullptr);
  for (const Named& n : named) {
    const auto it = index.find(n.name);
    if (it == index.end()) {
      throw Error(request.header
                      ? fmt::format("{}: '{}' is not a column of the header ({})", field(n.list), n.name,
                                    list_names(names))
                      : fmt::format("{}: '{}' is not a column: without a header columns are named by their "
                                    "position, 0 to {}",
                                    field(n.list), n.name, int(names.size()) - 1));
    }
    if (const Named* first = by_column[it->second]; first != nullptr) {
      throw Error(first->list == n.list
                      ? fmt::format("{}: '{}' is named twice", field(n.list), n.name)
                      : fmt::format("{}: '{}' is already named by {}", field(n.list), n.name, field(first->list)));
    }
    by_column[it->second] = &n;
  }
  FeatureSchema schema;
  schema.header = request.header;
  schema.hex_ids = request.hex_ids.value_or(false);
  for (size_t i = 0; i < names.size(); ++i) {
    if (by_column[i] == nullptr) {
      throw Error(fmt::format("{}: column {} '{}' is not named by label, numeric, categorical, multi_hot or "
                              "ignore (every column must be named once; ignore skips it)",
                              field("ignore"), i, names[i]));
    }
    SchemaColumn c = by_column[i]->column;
    c.name = names[i];
    schema.columns.push_back(c);
  }
  schema.validate(field("schema"));
  return schema;
}

namespace {

// A file read ahead for its first line: a regular file (not "-", a FIFO or a device).
bool readable_ahead(const std::string& path) {
  struct stat st {};
  return path != "-" && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

FeatureSchema resolve_schema_for_files(const SchemaRequest& request, const std::vector<std::string>& paths,
                                       char delimiter) {
  if (!request.states_columns() || !request.schema_file.empty() || paths.empty()) {
    return resolve_schema(request, std::nullopt, std::nullopt);
  }
  std::string first = paths.front();
  std::error_code ec;
  if (first != "-" && std::filesystem::is_directory(first, ec)) {  // a folder stands for its files (convert)
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(first, ec)) {
      const std::string name = entry.path().filename().string();
      if (!name.starts_with('.') && entry.is_regular_file(ec)) files.push_back(entry.path().string());
    }
    if (!files.empty()) first = *std::min_element(files.begin(), files.end());
  }
  if (!readable_ahead(first)) {
    if (request.header) {
      throw Error(fmt::format("{}: the header names are read from the first file before the data, which '{}' "
                              "(standard input or a pipe) does not allow",
                              field("header"), first));
    }
    return resolve_schema(request, std::nullopt, std::nullopt);
  }
  const std::vector<std::string> fields = split_fields(read_first_line(first), delimiter);
  const int count = int(fields.size());
  try {
    return resolve_schema(request, request.header ? std::optional(fields) : std::nullopt, count);
  } catch (const Error& e) {
    throw Error(first + ": " + e.marked());
  }
}

FeatureSchema check_stated_schema(const SchemaRequest& request, const FeatureSchema& stored,
                                  const std::string& source) {
  if (!request.given()) return stored;
  FeatureSchema stated;
  if (!request.schema_file.empty()) {
    stated = resolve_schema(request, std::nullopt, std::nullopt);
  } else {
    std::vector<std::string> names;
    for (const SchemaColumn& c : stored.columns) names.push_back(c.name);
    // Without a header the stored names are positions when the data was stated by flags.
    stated = resolve_schema(request, request.header ? std::optional(names) : std::nullopt, stored.field_count());
  }
  const std::string difference = stored.first_difference(stated);
  if (!difference.empty()) {
    throw Error(fmt::format("{}: {} has its own schema, which the stated one does not match: {}", field("schema"),
                            source, difference));
  }
  return stored;
}

FeatureSchema schema_for_data(const SchemaRequest& request, const std::vector<std::string>& paths, char delimiter) {
  if (!paths.empty() && has_cache_magic(paths.front())) {
    if (std::optional<FeatureSchema> stored = read_cache_schema(paths.front())) {
      return check_stated_schema(request, *stored, paths.front());
    }
  }
  return resolve_schema_for_files(request, paths, delimiter);
}

HashingConfig hashing_for(const FeatureSchema& schema, uint32_t rows_per_table, uint64_t salt) {
  HashingConfig hashing = HashingConfig::uniform(rows_per_table, salt, schema.table_count());
  for (int t = 0; t < schema.table_count(); ++t) {
    const uint32_t asked = schema.columns[size_t(schema.table_column(t))].rows;
    if (asked != 0) hashing.rows[size_t(t)] = asked;
  }
  return hashing;
}

}  // namespace shadowsync
