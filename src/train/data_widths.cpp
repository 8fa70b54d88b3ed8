// check_data_widths: data of another shape than the model's schema is refused (see data_widths.hpp).
#include "train/data_widths.hpp"

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"

namespace shadowsync::train {

FeatureWidths widths_of(const FeatureSchema& schema) {
  return FeatureWidths{schema.numeric_count(), schema.categorical_count(), schema.multi_hot_count()};
}

void check_data_widths(const ModelConfig& model, const DataParts& data, const std::string& what) {
  const FeatureWidths want = widths_of(model.schema);
  for (const DataView& part : data.parts()) {
    if (part.rows == 0 || part.widths() == want) continue;
    const FeatureWidths got = part.widths();
    throw Error(fmt::format("{}: the rows have {} numeric, {} categorical and {} multi-hot features; the model ({}) "
                            "reads {}, {} and {}",
                            what, got.numeric, got.sparse, got.multi_hot, field("model"), want.numeric, want.sparse,
                            want.multi_hot));
  }
}

}  // namespace shadowsync::train
