// The one check that data has the shape a model reads: as many numeric, categorical (one-hot) and
// multi-hot features as the model's schema (feature_schema.hpp), before a batch of it is read.
#pragma once

#include <string>

#include "shadowsync/data/data_parts.hpp"
#include "shadowsync/data/data_view.hpp"
#include "shadowsync/model/model_config.hpp"

namespace shadowsync::train {

// The widths of the data `schema` describes: N numeric, S categorical, M multi-hot.
FeatureWidths widths_of(const FeatureSchema& schema);

// Throws Error "`what`: the rows have 13 numeric, 26 categorical and 0 multi-hot features; the
// model (`model`) reads 3, 7 and 1" when a part with rows has other widths. Empty parts pass.
void check_data_widths(const ModelConfig& model, const DataParts& data, const std::string& what);

}  // namespace shadowsync::train
