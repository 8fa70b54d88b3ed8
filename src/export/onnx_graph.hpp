// The ONNX graph of a model (internal to src/export): nodes, graph inputs and output, and the
// initializers of named_parameters() in its order, their floats inline (raw_data). Which
// interactions the graph can express: one function per interaction (interaction_graph).
#pragma once

#include <onnx/onnx_pb.h>

#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/model.hpp"

namespace shadowsync::export_detail {

// Throws Error "export: interaction 'x' cannot be exported" unless the graph can express it.
void check_interaction(const ModelConfig& config);

onnx::ModelProto build_onnx_model(const Model& model, const float* dense, const EmbeddingStore& embeddings, int opset);

}  // namespace shadowsync::export_detail
