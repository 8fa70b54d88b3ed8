// Saving and loading a model's parameters: one dense replica (optionally with its Adagrad
// state) and the embedding tables with their accumulators. The trainer's checkpoints have their
// own format; this is the simple standalone one (tools, tests).
//
// File format (little-endian): "SHSMODL1" magic, uint64 length + model config JSON text
// (ModelConfig::to_json), uint64 flags (bit 0: dense state present), uint64 dense floats, the
// dense floats [, the dense state], then per table its table_floats() floats and rows()
// accumulator floats, and finally a uint64 checksum64 of every byte before it.
#pragma once

#include <string>

#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_config.hpp"

namespace shadowsync {

// Writes atomically (AtomicFileWriter: a temporary unique to this call, fsync, rename over PATH),
// so PATH holds the old or the new model, never half. Throws Error naming the path on I/O failure.
void save_model(const std::string& path, const Model& model, const float* dense,
                const EmbeddingStore& embeddings, const float* dense_state = nullptr);

// The config stored in a model file (to build the Model and EmbeddingStore for load_model).
ModelConfig read_model_config(const std::string& path);

// Reads a file written by save_model for this model's config into `dense` (total_floats) and
// `embeddings` (same hashing and dim). dense_state: filled if not null (Error if the file has
// none). Throws Error naming the path for a bad magic, a config mismatch, a truncated file or a
// checksum mismatch; the outputs may be partly written then.
void load_model(const std::string& path, const Model& model, float* dense,
                EmbeddingStore& embeddings, float* dense_state = nullptr);

}  // namespace shadowsync
