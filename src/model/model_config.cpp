// ModelConfig: presets, JSON reading / writing and validation of the model architecture.
#include "shadowsync/model/model_config.hpp"

#include <filesystem>
#include <set>
#include <string>

#include "core/mapped_file.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/core/untrusted_json.hpp"

namespace shadowsync {
namespace {

constexpr int kMaxWidth = 1 << 16;
constexpr int kMaxCrossLayers = 64;

std::vector<int> read_widths(const nlohmann::json& j, const char* field, const std::string& where) {
  if (!j.contains(field)) throw Error(where + ": missing field \"" + field + "\"");
  const nlohmann::json& list = j.at(field);
  if (!list.is_array()) throw Error(where + ": " + field + " must be an array of layer widths");
  std::vector<int> widths;
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_number_integer()) {
      throw Error(where + ": " + field + "[" + std::to_string(i) + "] must be an integer, got " +
                  json_brief(list[i]));
    }
    const long long w = list[i].get<long long>();
    if (w < 1 || w > kMaxWidth) {
      throw Error(where + ": " + field + "[" + std::to_string(i) + "] must be in 1.." +
                  std::to_string(kMaxWidth) + ", got " + std::to_string(w));
    }
    widths.push_back(static_cast<int>(w));
  }
  return widths;
}

// `tables`: the schema's table count (the entries of a single-number "rows").
HashingConfig read_hashing(const nlohmann::json& j, const std::string& where, int tables) {
  if (!j.is_object()) throw Error(where + ": hashing must be an object {\"rows\": ..., \"salt\": ...}");
  for (const auto& item : j.items()) {
    if (item.key() != "rows" && item.key() != "salt") {
      throw Error(where + ": unknown field hashing." + json_brief(item.key()) + " (valid: rows, salt)");
    }
  }
  HashingConfig hashing = HashingConfig::uniform(HashingConfig::kDefaultRowsPerTable, 0, tables);
  if (j.contains("salt")) {
    if (!j.at("salt").is_number_unsigned()) throw Error(where + ": hashing.salt must be a non-negative integer");
    hashing.salt = j.at("salt").get<uint64_t>();
  }
  if (j.contains("rows")) {
    const nlohmann::json& rows = j.at("rows");
    auto read_one = [&](const nlohmann::json& v, const std::string& name) -> uint32_t {
      if (!v.is_number_unsigned() || v.get<uint64_t>() < 2 || v.get<uint64_t>() > 0xFFFFFFFFull) {
        throw Error(where + ": " + name + " must be an integer in 2..4294967295, got " + json_brief(v));
      }
      return static_cast<uint32_t>(v.get<uint64_t>());
    };
    if (rows.is_number()) {
      std::fill(hashing.rows.begin(), hashing.rows.end(), read_one(rows, "hashing.rows"));
    } else if (rows.is_array()) {
      // Its length is checked against the schema's tables by validate().
      hashing.rows.assign(rows.size(), 0);
      for (size_t t = 0; t < rows.size(); ++t) {
        hashing.rows[t] = read_one(rows[t], "hashing.rows[" + std::to_string(t) + "]");
      }
    } else {
      throw Error(where + ": hashing.rows must be one integer or an array of integers (one per table)");
    }
  }
  return hashing;
}

}  // namespace

Interaction parse_interaction(std::string_view text, const std::string& where) {
  if (text == "dot") return Interaction::Dot;
  if (text == "cat") return Interaction::Cat;
  if (text == "dcn") return Interaction::Dcn;
  const std::string shown = text.size() <= 40 ? std::string(text) : std::string(text.substr(0, 40)) + "...";
  throw Error(where + ": unknown interaction '" + shown + "' (valid: dot, cat, dcn)");
}

std::string interaction_name(Interaction interaction) {
  switch (interaction) {
    case Interaction::Dot: return "dot";
    case Interaction::Cat: return "cat";
    case Interaction::Dcn: return "dcn";
  }
  return "?";
}

ModelConfig ModelConfig::preset(std::string_view name, const HashingConfig& hashing, const FeatureSchema& schema) {
  ModelConfig c;
  c.hashing = hashing;
  c.schema = schema;
  c.interaction = Interaction::Dot;
  if (name == "tiny") {
    c.bottom = {8, 4};
    c.embedding_dim = 4;
    c.top = {8, 1};
  } else if (name == "small") {
    c.bottom = {64, 16};
    c.embedding_dim = 16;
    c.top = {256, 64, 1};
  } else if (name == "kaggle") {
    c.bottom = {512, 256, 64, 16};
    c.embedding_dim = 16;
    c.top = {512, 256, 1};
  } else if (name == "dcn") {
    c.bottom = {512, 256, 64, 16};
    c.embedding_dim = 16;
    c.top = {512, 256, 1};
    c.interaction = Interaction::Dcn;
    c.cross_layers = 3;
    c.cross_rank = 0;
  } else if (name == "dcn-mlperf") {
    c.bottom = {512, 256, 128};
    c.embedding_dim = 128;
    c.top = {1024, 1024, 512, 256, 1};
    c.interaction = Interaction::Dcn;
    c.cross_layers = 3;
    c.cross_rank = 512;
  } else {
    throw Error("unknown model preset '" + std::string(name) +
                "' (valid: tiny, small, kaggle, dcn, dcn-mlperf, or a path to a .json model file)");
  }
  if (schema.numeric_count() == 0) c.bottom.clear();  // no numeric column: no bottom MLP
  // A schema with few tables: rank 512 would not be below D; full rank is then no more work.
  if (c.cross_rank > 0 && c.cross_rank >= c.interaction_width()) c.cross_rank = 0;
  c.validate("preset " + std::string(name));
  return c;
}

namespace {

// from_json with the schema and hashing a model file without those fields takes (hashing null:
// uniform tables of the schema).
ModelConfig parse_model(const nlohmann::json& j, const std::string& where, const FeatureSchema& default_schema,
                        const HashingConfig* default_hashing) {
  if (!j.is_object()) throw Error(where + ": a model must be a JSON object");
  static const std::set<std::string> known = {"bottom",  "top",          "embedding_dim", "interaction",
                                              "hashing", "schema",       "cross_layers",  "cross_rank"};
  for (const auto& item : j.items()) {
    if (!known.count(item.key())) {
      throw Error(where + ": unknown field " + json_brief(item.key()) +
                  " (valid: bottom, top, embedding_dim, interaction, cross_layers, cross_rank, hashing, schema)");
    }
  }
  ModelConfig c;
  c.bottom = read_widths(j, "bottom", where);
  c.top = read_widths(j, "top", where);
  if (!j.contains("embedding_dim")) throw Error(where + ": missing field \"embedding_dim\"");
  const nlohmann::json& dim = j.at("embedding_dim");
  if (!dim.is_number_integer() || dim.get<long long>() < 1 || dim.get<long long>() > kMaxWidth) {
    throw Error(where + ": embedding_dim must be an integer in 1.." + std::to_string(kMaxWidth) +
                ", got " + json_brief(dim));
  }
  c.embedding_dim = static_cast<int>(dim.get<long long>());
  if (j.contains("interaction")) {
    if (!j.at("interaction").is_string()) throw Error(where + ": interaction must be \"dot\", \"cat\" or \"dcn\"");
    c.interaction = parse_interaction(j.at("interaction").get<std::string>(), where);
  }
  for (const char* field : {"cross_layers", "cross_rank"}) {
    if (!j.contains(field)) continue;
    if (c.interaction != Interaction::Dcn) {
      throw Error(where + ": " + field + " is only for interaction \"dcn\" (the interaction is \"" +
                  interaction_name(c.interaction) + "\")");
    }
    const bool layers = std::string(field) == "cross_layers";
    const nlohmann::json& v = j.at(field);
    const long long low = layers ? 1 : 0, high = layers ? kMaxCrossLayers : kMaxWidth;
    if (!v.is_number_integer() || v.get<long long>() < low || v.get<long long>() > high) {
      throw Error(where + ": " + field + " must be an integer in " + std::to_string(low) + ".." + std::to_string(high) +
                  (layers ? "" : " (0: full rank)") + ", got " + json_brief(v));
    }
    (layers ? c.cross_layers : c.cross_rank) = static_cast<int>(v.get<long long>());
  }
  if (c.interaction == Interaction::Dcn && !j.contains("cross_layers")) {
    throw Error(where + ": missing field \"cross_layers\" (the number of cross layers of interaction \"dcn\")");
  }
  c.schema = j.contains("schema") ? FeatureSchema::from_json(j.at("schema"), where + ": schema") : default_schema;
  const int tables = c.schema.table_count();
  if (j.contains("hashing")) {
    c.hashing = read_hashing(j.at("hashing"), where, tables);
  } else if (default_hashing != nullptr) {
    c.hashing = *default_hashing;
  } else {
    c.hashing = HashingConfig::uniform(HashingConfig::kDefaultRowsPerTable, 0, tables);
  }
  c.validate(where);
  return c;
}

}  // namespace

ModelConfig ModelConfig::from_json(const nlohmann::json& j, const std::string& where) {
  return parse_model(j, where, FeatureSchema::criteo(), nullptr);
}

ModelConfig ModelConfig::from_json_file(const std::string& path, const HashingConfig& hashing,
                                        const FeatureSchema& schema) {
  // A model file is a few hundred bytes; a huge one is a mistake, not something to parse.
  constexpr size_t kMaxModelFileBytes = size_t{1} << 20;
  const std::string text = read_small_file(path, kMaxModelFileBytes);
  const nlohmann::json j = parse_untrusted_json(text, path);
  return parse_model(j, path, schema, &hashing);
}

ModelConfig ModelConfig::resolve(const std::string& preset_or_path, const HashingConfig& hashing,
                                 const FeatureSchema& schema) {
  const bool looks_like_file =
      (preset_or_path.size() >= 5 && preset_or_path.ends_with(".json")) ||
      preset_or_path.find('/') != std::string::npos;
  std::error_code ec;
  if (looks_like_file || std::filesystem::is_regular_file(preset_or_path, ec)) {
    return from_json_file(preset_or_path, hashing, schema);
  }
  return preset(preset_or_path, hashing, schema);
}

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json rows = nlohmann::json::array();
  for (uint32_t r : hashing.rows) rows.push_back(r);
  nlohmann::json j = {{"bottom", bottom},
                      {"top", top},
                      {"embedding_dim", embedding_dim},
                      {"interaction", interaction_name(interaction)},
                      {"hashing", {{"rows", rows}, {"salt", hashing.salt}}},
                      {"schema", schema.to_json()}};
  // Only dcn has them: dot and cat models write the same JSON as before they existed.
  if (interaction == Interaction::Dcn) {
    j["cross_layers"] = cross_layers;
    j["cross_rank"] = cross_rank;
  }
  return j;
}

namespace {

std::string widths_text(const std::vector<int>& widths) {
  std::string out = "[";
  for (size_t i = 0; i < widths.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(widths[i]);
  }
  out += ']';
  return out;
}

}  // namespace

std::string ModelConfig::differences(const ModelConfig& other) const {
  std::vector<std::string> parts;
  if (bottom != other.bottom) parts.push_back("bottom " + widths_text(bottom) + " vs " + widths_text(other.bottom));
  if (top != other.top) parts.push_back("top " + widths_text(top) + " vs " + widths_text(other.top));
  if (embedding_dim != other.embedding_dim) {
    parts.push_back("embedding_dim " + std::to_string(embedding_dim) + " vs " + std::to_string(other.embedding_dim));
  }
  if (interaction != other.interaction) {
    parts.push_back("interaction " + interaction_name(interaction) + " vs " + interaction_name(other.interaction));
  }
  if (cross_layers != other.cross_layers) {
    parts.push_back("cross_layers " + std::to_string(cross_layers) + " vs " + std::to_string(other.cross_layers));
  }
  if (cross_rank != other.cross_rank) {
    parts.push_back("cross_rank " + std::to_string(cross_rank) + " vs " + std::to_string(other.cross_rank));
  }
  if (const std::string d = schema.first_difference(other.schema); !d.empty()) parts.push_back("schema " + d);
  if (hashing.salt != other.hashing.salt) {
    parts.push_back("hashing.salt " + std::to_string(hashing.salt) + " vs " + std::to_string(other.hashing.salt));
  }
  if (hashing.rows.size() != other.hashing.rows.size()) {
    parts.push_back("tables " + std::to_string(hashing.rows.size()) + " vs " + std::to_string(other.hashing.rows.size()));
  }
  for (size_t t = 0; t < std::min(hashing.rows.size(), other.hashing.rows.size()); ++t) {
    if (hashing.rows[t] != other.hashing.rows[t]) {
      parts.push_back("hashing.rows[" + std::to_string(t) + "] " + std::to_string(hashing.rows[t]) + " vs " +
                      std::to_string(other.hashing.rows[t]));
      break;  // one table is enough to say the hashing differs
    }
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += "; ";
    out += parts[i];
  }
  return out;
}

void ModelConfig::validate(const std::string& where) const {
  if (embedding_dim < 1 || embedding_dim > kMaxWidth) {
    throw Error(where + ": embedding_dim must be in 1.." + std::to_string(kMaxWidth) + ", got " +
                std::to_string(embedding_dim));
  }
  const int numeric = schema.numeric_count();
  if (numeric > 0 && bottom.empty()) {
    throw Error(where + ": bottom must list at least one layer width (the schema has " + std::to_string(numeric) +
                " numeric columns)");
  }
  if (numeric == 0 && !bottom.empty()) {
    throw Error(where + ": bottom must be [] for a schema without numeric columns (no bottom MLP), got " +
                widths_text(bottom));
  }
  if (top.empty()) throw Error(where + ": top must list at least one layer width");
  for (size_t i = 0; i < bottom.size(); ++i) {
    if (bottom[i] < 1 || bottom[i] > kMaxWidth) {
      throw Error(where + ": bottom[" + std::to_string(i) + "] must be in 1.." + std::to_string(kMaxWidth) +
                  ", got " + std::to_string(bottom[i]));
    }
  }
  for (size_t i = 0; i < top.size(); ++i) {
    if (top[i] < 1 || top[i] > kMaxWidth) {
      throw Error(where + ": top[" + std::to_string(i) + "] must be in 1.." + std::to_string(kMaxWidth) +
                  ", got " + std::to_string(top[i]));
    }
  }
  if (!bottom.empty() && bottom.back() != embedding_dim) {
    throw Error(where + ": bottom[-1] must equal embedding_dim (" + std::to_string(embedding_dim) +
                "), got " + std::to_string(bottom.back()));
  }
  if (top.back() != 1) {
    throw Error(where + ": top[-1] must be 1 (one logit), got " + std::to_string(top.back()));
  }
  if (hashing.tables() != schema.table_count()) {
    throw Error(where + ": hashing.rows has " + std::to_string(hashing.tables()) + " tables but the schema has " +
                std::to_string(schema.table_count()) + " (" + std::to_string(schema.categorical_count()) +
                " categorical + " + std::to_string(schema.multi_hot_count()) + " multi_hot columns)");
  }
  for (int t = 0; t < hashing.tables(); ++t) {
    if (hashing.rows[size_t(t)] < 2) {
      throw Error(where + ": hashing.rows[" + std::to_string(t) + "] must be >= 2, got " +
                  std::to_string(hashing.rows[size_t(t)]));
    }
  }
  if (interaction != Interaction::Dcn && (cross_layers != 0 || cross_rank != 0)) {
    throw Error(where + ": " + (cross_layers != 0 ? "cross_layers" : "cross_rank") +
                " is only for interaction dcn (the interaction is " + interaction_name(interaction) + ")");
  }
  if (interaction == Interaction::Dcn) {
    if (cross_layers < 1 || cross_layers > kMaxCrossLayers) {
      throw Error(where + ": cross_layers must be in 1.." + std::to_string(kMaxCrossLayers) + " for interaction dcn, got " +
                  std::to_string(cross_layers));
    }
    const long long width = (long long)interaction_vectors() * embedding_dim;
    if (width > kMaxWidth) {
      throw Error(where + ": interaction dcn over " + std::to_string(interaction_vectors()) + " vectors of " +
                  std::to_string(embedding_dim) + " values is " + std::to_string(width) +
                  " wide, more than the widest layer " + std::to_string(kMaxWidth) + " (fewer tables or a smaller embedding_dim)");
    }
    if (cross_rank < 0 || cross_rank > width) {
      throw Error(where + ": cross_rank must be 0 (full rank) or in 1.." + std::to_string(width) +
                  " (the cross width D = " + std::to_string(interaction_vectors()) + " vectors x embedding_dim " +
                  std::to_string(embedding_dim) + "), got " + std::to_string(cross_rank));
    }
  }
  if (interaction_width() < 1) {
    throw Error(where + ": interaction dot over " + std::to_string(interaction_vectors()) +
                " vector has no pairs (a schema without numeric columns needs two tables for dot; use cat)");
  }
}

int ModelConfig::interaction_vectors() const {
  return (bottom.empty() ? 0 : 1) + hashing.tables();
}

int ModelConfig::interaction_width() const {
  const int v = interaction_vectors();
  if (interaction == Interaction::Cat || interaction == Interaction::Dcn) return v * embedding_dim;
  return (bottom.empty() ? 0 : embedding_dim) + v * (v - 1) / 2;
}

double ModelConfig::flops_per_example_train() const {
  double flops = 0;
  int in = schema.numeric_count();
  for (size_t l = 0; l < bottom.size(); ++l) {
    const double mk = double(in) * bottom[l];
    flops += 2 * mk * (l == 0 ? 2 : 3);  // forward, backward-weights (+ backward-data)
    in = bottom[l];
  }
  in = interaction_width();
  for (int out : top) {
    flops += 2 * 3 * double(in) * out;
    in = out;
  }
  if (interaction == Interaction::Dcn) {
    // Per cross layer: forward, backward-data (x0 is the embeddings' and bottom's gradient path)
    // and weight gradient of W (D x D) or of V (r x D) and U (D x r).
    const double D = double(interaction_width());
    const double per_layer = cross_rank == 0 ? D * D : 2.0 * D * cross_rank;
    flops += 2 * 3 * per_layer * cross_layers;
  }
  if (interaction == Interaction::Dot) {
    const int v = interaction_vectors();
    flops += 2 * 3 * double(v * (v - 1) / 2) * embedding_dim;  // forward dots + two backward products
  }
  return flops;
}

}  // namespace shadowsync
