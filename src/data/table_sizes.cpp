// Reads the statistics JSON into embedding table sizes (see table_sizes.hpp for the contract).
#include "shadowsync/data/table_sizes.hpp"

#include <array>
#include <vector>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "shadowsync/core/error.hpp"

namespace shadowsync {

HashingConfig tables_sized_from_stats_json(std::string_view text, const std::string& source) {
  const std::string where = "'" + source + "'";
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw Error(where + ": not JSON (the data statistics are a JSON object)");
  const auto count = [&](const nlohmann::json& v, const std::string& field) -> uint64_t {
    if (!v.is_number_unsigned()) throw Error(where + ": field '" + field + "' must be a non-negative integer");
    return v.get<uint64_t>();
  };
  // One entry per table of the schema the statistics were taken with (26 for Criteo's): the
  // count is the one of hashing.rows_per_table, which `sparse` must match.
  size_t table_count = 0;
  const auto one_per_table = [&](const nlohmann::json& v, const std::string& field) -> const nlohmann::json& {
    if (!v.is_array() || (table_count == 0 ? v.empty() : v.size() != table_count)) {
      throw Error(where + ": field '" + field + "' must be an array of " +
                  (table_count == 0 ? std::string("one entry per table") : std::to_string(table_count) + " entries"));
    }
    table_count = v.size();
    return v;
  };
  if (!j.is_object() || !j.contains("hashing") || !j["hashing"].is_object() || !j.contains("sparse")) {
    throw Error(where + ": not the data statistics (no 'hashing' object and 'sparse' field)");
  }
  const nlohmann::json& hashing = j["hashing"];
  static const nlohmann::json absent;
  const nlohmann::json& tables =
      one_per_table(hashing.contains("rows_per_table") ? hashing["rows_per_table"] : absent, "hashing.rows_per_table");
  const nlohmann::json& sparse = one_per_table(j["sparse"], "sparse");
  HashingConfig measured;
  if (hashing.contains("salt")) {  // the salt the rows were counted with (kept in the result)
    const nlohmann::json& salt = hashing["salt"];
    measured.salt = count(salt, "hashing.salt");
  }
  std::vector<uint64_t> distinct(table_count, 0);
  measured.rows.assign(table_count, 0);
  for (size_t t = 0; t < table_count; ++t) {
    const std::string at = "[" + std::to_string(t) + "]";
    const uint64_t rows = count(tables[t], "hashing.rows_per_table" + at);
    const std::string problem = rows_per_table_problem(rows, std::to_string(rows));
    if (!problem.empty()) throw Error(where + ": field 'hashing.rows_per_table" + at + "': " + problem);
    measured.rows[t] = static_cast<uint32_t>(rows);
    if (!sparse[t].is_object() || !sparse[t].contains("distinct_rows")) {
      throw Error(where + ": field 'sparse" + at + ".distinct_rows' is missing");
    }
    distinct[t] = count(sparse[t]["distinct_rows"], "sparse" + at + ".distinct_rows");
    if (distinct[t] >= rows) {
      const nlohmann::json& name = sparse[t].contains("name") ? sparse[t]["name"] : absent;
      const std::string limit = name.is_string()
                                    ? "the " + std::to_string(rows) + " rows of table " + name.get<std::string>()
                                    : "the table's " + std::to_string(rows) + " rows";
      throw Error(where + ": field 'sparse" + at + ".distinct_rows' (" + std::to_string(distinct[t]) +
                  ") must be less than " + limit);
    }
  }
  return tables_sized_for(distinct, measured);
}

HashingConfig tables_sized_from_stats_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("'" + path + "': cannot open: " + std::strerror(errno));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error("'" + path + "': cannot read: " + std::strerror(errno));
  return tables_sized_from_stats_json(text, path);
}

}  // namespace shadowsync
