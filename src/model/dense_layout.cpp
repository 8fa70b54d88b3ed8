// DenseLayout::for_config: packs every MLP (and dcn cross) weight and bias at 64-byte-aligned offsets.
#include "shadowsync/model/dense_layout.hpp"

namespace shadowsync {
namespace {

size_t align16(size_t floats) { return (floats + 15) / 16 * 16; }

}  // namespace

DenseLayout DenseLayout::for_config(const ModelConfig& config) {
  DenseLayout layout;
  size_t offset = 0;
  auto add = [&](std::vector<Layer>& layers, int in, int out) {
    Layer layer;
    layer.in = in;
    layer.out = out;
    layer.weight_offset = offset;
    offset = align16(offset + size_t(in) * size_t(out));
    layer.bias_offset = offset;
    offset = align16(offset + size_t(out));
    layers.push_back(layer);
  };
  int in = config.schema.numeric_count();  // no bottom layers when 0
  for (int out : config.bottom) {
    add(layout.bottom, in, out);
    in = out;
  }
  if (config.interaction == Interaction::Dcn) {
    const int dim = config.interaction_width();
    const size_t square = size_t(dim) * size_t(dim), factor = size_t(dim) * size_t(config.cross_rank);
    for (int l = 0; l < config.cross_layers; ++l) {
      Cross cross;
      cross.dim = dim;
      cross.rank = config.cross_rank;
      if (cross.rank == 0) {
        cross.weight_offset = offset;
        offset = align16(offset + square);
      } else {
        cross.v_offset = offset;
        offset = align16(offset + factor);
        cross.u_offset = offset;
        offset = align16(offset + factor);
      }
      cross.bias_offset = offset;
      offset = align16(offset + size_t(dim));
      layout.cross.push_back(cross);
    }
  }
  in = config.interaction_width();
  for (int out : config.top) {
    add(layout.top, in, out);
    in = out;
  }
  layout.total_floats = offset;
  return layout;
}

}  // namespace shadowsync
