// ModelConfig: the architecture of the DLRM-style CTR model (bottom MLP, embedding width,
// feature interaction, top MLP) plus the hashing (embedding-table rows) it was built for.
// Made from a preset name (tiny, small, kaggle, dcn, dcn-mlperf), a JSON model file or a JSON value; validated on
// construction so that every ModelConfig in the program describes a buildable model.
//
// JSON form: {"bottom": [512,256,64,16], "top": [512,256,1], "embedding_dim": 16,
//             "interaction": "dot", "hashing": {"rows": [one number per table] or one number,
//             "salt": 0}, "schema": {...}}
// "bottom" lists the output widths of the bottom MLP (its input is the schema's N numeric
// features) and must end in embedding_dim; it is empty exactly when N = 0 (no bottom MLP: the
// dense vector leaves the interaction). "top" lists the output widths of the top MLP and must end
// in 1. The interaction runs over V = (N > 0 ? 1 : 0) + T vectors, T = the schema's tables
// (categorical, then multi-hot columns; hashing.rows has one entry per table).
// Interaction "dcn" (DCN-v2 cross layers) also takes "cross_layers" (L >= 1) and "cross_rank"
// (0: full rank, the default; r in 1..D: low rank), both only with dcn; D = V * embedding_dim.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "shadowsync/data/feature_schema.hpp"
#include "shadowsync/data/hashing.hpp"

namespace shadowsync {

enum class Interaction {
  Dot,  // pairwise dot products of the V vectors (V(V-1)/2 values; 351 for Criteo's 27) after the
        // bottom output (when there is a bottom MLP)
  Cat,  // plain concatenation of the V vectors (V * embedding_dim values)
  Dcn,  // DCN-v2 (Wang et al. 2021): x0 = the concatenation (D = V * embedding_dim values), then
        // cross_layers layers x_{l+1} = x0 * (W_l x_l + b_l) + x_l (element-wise *), W_l full
        // rank (D x D) or W_l = U_l V_l (U_l: D x r, V_l: r x D); the top MLP reads x_L (D values)
};

// "dot" / "cat" / "dcn"; throws Error naming `where` and listing the valid values.
Interaction parse_interaction(std::string_view text, const std::string& where);
std::string interaction_name(Interaction interaction);

struct ModelConfig {
  std::vector<int> bottom;  // output widths of the bottom MLP layers; back() == embedding_dim
  std::vector<int> top;     // output widths of the top MLP layers; back() == 1
  int embedding_dim = 0;
  Interaction interaction = Interaction::Dot;
  // Dcn only (0 for dot and cat): the number of cross layers (>= 1) and their rank (0: full rank
  // W: D x D; r >= 1: W = U V, U: D x r, V: r x D, r <= D).
  int cross_layers = 0;
  int cross_rank = 0;
  HashingConfig hashing;
  // The features the model reads (feature_schema.hpp): its numeric columns feed the bottom MLP,
  // each categorical / multi-hot column has a table (hashing.rows[t]). JSON field "schema";
  // absent in files and checkpoints written before schemas existed: Criteo's layout.
  FeatureSchema schema = FeatureSchema::criteo();

  // Presets over `schema` (Criteo's 13 numeric features in brackets): tiny (tests: N-8-4, d 4,
  // top 8-1), small (N-64-16, d 16, top 256-64-1), kaggle (N-512-256-64-16, d 16, top
  // 512-256-1), all with `dot`; dcn (kaggle's sizes, `dcn` with 3 full-rank cross layers);
  // dcn-mlperf (MLPerf DLRM-DCNv2: N-512-256-128, d 128, 3 cross layers of rank 512 (full rank
  // when D <= 512), top 1024-1024-512-256-1); bottom [] when the schema has no numeric column. `hashing` must
  // have one entry per table of the schema (else Error naming both counts). Unknown name: Error
  // listing the valid ones.
  static ModelConfig preset(std::string_view name, const HashingConfig& hashing,
                            const FeatureSchema& schema = FeatureSchema::criteo());
  // The file's "hashing" when present, else `hashing`; the file's "schema" when present, else
  // `schema`. Errors name the file and the field.
  static ModelConfig from_json_file(const std::string& path, const HashingConfig& hashing,
                                    const FeatureSchema& schema = FeatureSchema::criteo());
  // `where` names the source in error messages (a file name, "checkpoint x: model").
  // Schema: the "schema" field when present, else Criteo's. Hashing: the "hashing" field when
  // present, else HashingConfig::uniform() with one table per table of the schema.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& where);
  // A path ending in .json (or naming an existing file) is read as a model file; anything else
  // is a preset name (both over `schema` as above).
  static ModelConfig resolve(const std::string& preset_or_path, const HashingConfig& hashing,
                             const FeatureSchema& schema = FeatureSchema::criteo());
  // Every field, hashing included; from_json(to_json()) == *this.
  nlohmann::json to_json() const;

  // Throws Error (prefixed with `where`) if the configuration is not a buildable model.
  void validate(const std::string& where) const;

  // Vectors of the interaction: V = (bottom MLP ? 1 : 0) + tables (27 for Criteo).
  int interaction_vectors() const;
  // Width of the top MLP's input: (bottom MLP ? embedding_dim : 0) + V(V-1)/2 (dot; Criteo:
  // 16 + 351) or V * embedding_dim (cat, dcn).
  int interaction_width() const;
  // GEMM FLOPs (2*m*n*k) of one training example: forward, backward-data (not for the first
  // bottom layer, whose input is data) and backward-weights of every layer, and the interaction
  // forward and backward (dcn: each cross layer's GEMMs, forward, backward-data and weights). Excludes element-wise work (bias, ReLU, optimizer, embeddings).
  double flops_per_example_train() const;

  // The fields in which `other` differs from this config, on one line for messages:
  // "bottom [64,16] vs [8,4]; embedding_dim 16 vs 4" (this config's value first; "" if equal).
  std::string differences(const ModelConfig& other) const;

  friend bool operator==(const ModelConfig&, const ModelConfig&) = default;
};

}  // namespace shadowsync
