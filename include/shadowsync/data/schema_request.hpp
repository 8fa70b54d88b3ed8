// SchemaRequest: how a user states the columns of a click log (the command line's --label,
// --numeric, --categorical, --multi-hot, --ignore, --header, --hex-ids and --schema; the same
// fields in other front ends), and its resolution into a FeatureSchema against the header names
// (or the field count) of the data. Errors name the request's fields (field("label"), ...).
//
// Rules (docs/data.md, "Stating the columns"):
//  - Nothing stated: Criteo's layout (FeatureSchema::criteo()), hex_ids as stated or true.
//  - schema_file: the JSON schema (FeatureSchema::from_json) is the whole statement; any other
//    field given with it is an Error naming both fields.
//  - Otherwise the columns are named by the header (header = true: the first line of the data)
//    or, without a header, by position "0", "1", ... Every column is named by exactly one of
//    label, numeric, categorical, multi_hot and ignore; a column left unnamed, a name that is not
//    a column and a name given twice are Errors naming it and the field. label is required.
//    hex_ids defaults to false (ids are strings hashed to 32 bits).
//  - numeric items are NAME or NAME:log1p / NAME:identity (log1p by default, Criteo's
//    transform); multi_hot items are NAME:SEP[:MAX_LENGTH[:POOLING]] with SEP one byte (or
//    "space"), MAX_LENGTH in 1..65536 (default 64), POOLING sum (default) or mean.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shadowsync/data/feature_schema.hpp"
#include "shadowsync/data/header_line.hpp"  // read_first_line
#include "shadowsync/data/hashing.hpp"

namespace shadowsync {

struct SchemaRequest {
  bool header = false;
  std::optional<std::string> label;
  std::vector<std::string> numeric;
  std::vector<std::string> categorical;
  std::vector<std::string> multi_hot;  // NAME:SEP[:MAX_LENGTH[:POOLING]]
  std::vector<std::string> ignore;
  std::string schema_file;             // path of a JSON schema ("" = none)
  std::optional<bool> hex_ids;

  // True when any field but hex_ids is given (the columns are stated, not Criteo's).
  bool states_columns() const;
  // True when any field is given.
  bool given() const { return states_columns() || hex_ids.has_value(); }
};

// The schema the request states. `header_names`: the names of the data's header line (required
// when request.header; ignored otherwise). `field_count`: the fields of a line of the data when
// known (columns named by position then run 0..field_count-1; a differing header is an Error);
// nullopt: without a header, the columns are those the request names by position.
FeatureSchema resolve_schema(const SchemaRequest& request,
                             const std::optional<std::vector<std::string>>& header_names,
                             std::optional<int> field_count);

// The schema stated for text files `paths` (fields split at `delimiter`): reads the first line of
// the first file for the header names (request.header) or the field count. A first file that is
// standard input or a FIFO is not read ahead: a header cannot be taken from it (Error naming
// field header), and the field count is then the request's.
FeatureSchema resolve_schema_for_files(const SchemaRequest& request,
                                       const std::vector<std::string>& paths, char delimiter);

// The schema of the data files `paths` under `request`: when the first is a binary cache, its
// stored schema (check_stated_schema: stated fields must match it); else
// resolve_schema_for_files.
FeatureSchema schema_for_data(const SchemaRequest& request, const std::vector<std::string>& paths, char delimiter);

// The schema of data that already carries one (a cache's, a checkpoint's: `stored`, found in
// `source`): `stored` itself when the request gives nothing; otherwise the request is resolved
// against stored's names and must describe the same schema, else Error naming `source` and the
// first difference ("schema: model.ckpt stores column 2: b (categorical); the stated schema
// has ... : column 2: b (categorical) vs b (numeric)").
FeatureSchema check_stated_schema(const SchemaRequest& request, const FeatureSchema& stored,
                                  const std::string& source);

// The JSON schema file at `path` (FeatureSchema::from_json; errors name the file).
FeatureSchema read_schema_file(const std::string& path);

// `line` split at `delimiter` (an empty line is one empty field).
std::vector<std::string> split_fields(const std::string& line, char delimiter);

// Hashing of a schema's tables: table t gets the rows its column asked for (SchemaColumn::rows)
// or `rows_per_table`.
HashingConfig hashing_for(const FeatureSchema& schema, uint32_t rows_per_table, uint64_t salt);

}  // namespace shadowsync
