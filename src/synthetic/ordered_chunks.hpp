// The writer shared by the generators (Criteo's layout and any schema): the rows of a file are
// made in chunks of kSyntheticChunkRows in parallel (a oneTBB pipeline) and written in chunk
// order, and the label counts and teacher log losses are summed in chunk order, so the bytes and
// the sums are the same for any number of threads.
#pragma once

#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "shadowsync/core/error.hpp"
#include "shadowsync/core/file_io.hpp"
#include "shadowsync/synthetic/synthetic.hpp"

namespace shadowsync::synthetic {

// One chunk's text and sums, filled by the caller's `make`.
struct GeneratedChunk {
  uint64_t index = 0;  // chunk number: rows [index * kSyntheticChunkRows, ...)
  uint64_t rows = 0;   // rows of this chunk (the last one may be short)
  std::string text;
  uint64_t positives = 0;
  double loss_sum = 0;
};

struct GeneratedTotals {
  uint64_t positives = 0;
  double loss_sum = 0;
};

// Calls make(chunk) for every chunk of `rows` rows (in parallel; make must only use its chunk and
// shared read-only state) and writes each chunk's text to `file` in chunk order. A write failure
// stops the pipeline and is thrown as Error after it (no exception escapes the pipeline's filters);
// `make` must not throw.
template <typename Make>
GeneratedTotals write_chunks_in_order(AtomicFileWriter& file, uint64_t rows, Make&& make) {
  const uint64_t chunks = (rows + kSyntheticChunkRows - 1) / kSyntheticChunkRows;
  uint64_t next_chunk = 0;
  GeneratedTotals totals;
  bool write_failed = false;
  std::string write_error;
  const size_t tokens = 2 * static_cast<size_t>(tbb::this_task_arena::max_concurrency()) + 2;
  tbb::parallel_pipeline(
      tokens,
      tbb::make_filter<void, GeneratedChunk*>(tbb::filter_mode::serial_in_order,
                                              [&](tbb::flow_control& fc) -> GeneratedChunk* {
                                                if (next_chunk == chunks || write_failed) {
                                                  fc.stop();
                                                  return nullptr;
                                                }
                                                auto* chunk = new GeneratedChunk;
                                                chunk->index = next_chunk++;
                                                chunk->rows = std::min(kSyntheticChunkRows,
                                                                       rows - chunk->index * kSyntheticChunkRows);
                                                return chunk;
                                              }) &
          tbb::make_filter<GeneratedChunk*, GeneratedChunk*>(tbb::filter_mode::parallel,
                                                             [&](GeneratedChunk* chunk) {
                                                               make(*chunk);
                                                               return chunk;
                                                             }) &
          tbb::make_filter<GeneratedChunk*, void>(tbb::filter_mode::serial_in_order, [&](GeneratedChunk* raw) {
            const std::unique_ptr<GeneratedChunk> chunk(raw);
            if (write_failed) return;
            totals.positives += chunk->positives;  // in chunk order: the same sums for any thread count
            totals.loss_sum += chunk->loss_sum;
            try {
              file.write(chunk->text);
            } catch (const Error& e) {  // no exception may escape the pipeline's filters
              write_error = e.what();
              write_failed = true;
            }
          }));
  if (write_failed) throw Error(write_error);
  return totals;
}

}  // namespace shadowsync::synthetic
