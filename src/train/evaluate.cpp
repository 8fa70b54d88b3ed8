// Parallel evaluation (see include/shadowsync/train/evaluate.hpp).
#include "shadowsync/train/evaluate.hpp"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>

#include "shadowsync/core/error.hpp"
#include "shadowsync/model/model_workspace.hpp"
#include "train/data_widths.hpp"

namespace shadowsync {
namespace {
constexpr size_t kEvalChunk = 1024;
}

std::vector<float> predict_all_logits(const Model& model, const float* dense,
                                      const EmbeddingStore& embeddings, const DataParts& data) {
  std::vector<float> logits(data.rows());
  if (data.rows() == 0) return logits;
  train::check_data_widths(model.config(), data, field("data"));
  // ModelWorkspace is bound to the thread that made it: one per TBB thread.
  tbb::enumerable_thread_specific<std::unique_ptr<ModelWorkspace>> workspaces;
  size_t offset = 0;  // of the part's first row in the sequence
  for (const DataView& part : data.parts()) {
    const size_t chunks = (part.rows + kEvalChunk - 1) / kEvalChunk;
    tbb::parallel_for(tbb::blocked_range<size_t>(0, chunks), [&](const tbb::blocked_range<size_t>& r) {
      auto& workspace = workspaces.local();
      if (!workspace) workspace = std::make_unique<ModelWorkspace>(model, static_cast<int>(kEvalChunk));
      for (size_t chunk = r.begin(); chunk != r.end(); ++chunk) {
        const size_t begin = chunk * kEvalChunk;
        const size_t end = std::min(part.rows, begin + kEvalChunk);
        workspace->predict_logits(part.slice(begin, end), dense, embeddings, logits.data() + offset + begin);
      }
    });
    offset += part.rows;
  }
  return logits;
}

BinaryMetrics evaluate_model(const Model& model, const float* dense,
                             const EmbeddingStore& embeddings, const DataParts& data) {
  BinaryMetrics metrics;
  if (data.rows() == 0) return metrics;
  const std::vector<float> logits = predict_all_logits(model, dense, embeddings, data);
  size_t offset = 0;
  for (const DataView& part : data.parts()) {
    metrics.add_logits(logits.data() + offset, part.labels, part.rows);
    offset += part.rows;
  }
  return metrics;
}

}  // namespace shadowsync
