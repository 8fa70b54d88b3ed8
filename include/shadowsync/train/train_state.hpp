// TrainState: everything a run is, apart from its configuration: the dense replicas and their
// optimizer state, the embedding tables and their accumulators, the sync rule's state (EASGD
// center, BMUF global model and momentum, the optimizer state's base with
// sync_optimizer_state sum) and each group's progress. It has one save and one
// load, used by resume, eval, predict and every front end.
//
// Checkpoint sections, in file order after the "header" JSON (see src/train/checkpoint.hpp for
// the framing): replicas, dense_state (optimizer state of each replica), embeddings (each
// table's block as 4-byte words: fp32 rows, or bf16 rows two halves a word, the header's
// "embedding_precision" saying which), embedding_state (row-wise Adagrad accumulators, fp32),
// sync_state (only for rules with state: SyncRule::state_buffers, the optimizer state's base b
// included with sync_optimizer_state sum).
// Inference needs only replicas and embeddings: a state made with Parts::Model holds only those.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/core/memory.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/model.hpp"

namespace shadowsync {

class CheckpointReader;

// Where one group is in its share of the data (a prefix of its batches).
struct GroupProgressState {
  uint64_t batches = 0;
  uint64_t examples = 0;
  uint64_t iterations = 0;
  uint64_t syncs = 0;
};

class TrainState {
 public:
  enum class Parts { Everything, Model };

  // Allocates (uninitialized) state for `replicas` replicas of `model`: replica r and its
  // optimizer state in replica_memory(r), the tables in table_memory. Parts::Model allocates
  // only replicas and tables. Throws std::bad_alloc or Error when memory runs out.
  // The tables' rows are in `rows` format (the accumulators fp32 either way).
  TrainState(const Model& model, int replicas, Parts parts,
             const std::function<MemoryResource&(int replica)>& replica_memory, MemoryResource& table_memory,
             RowFormat rows = RowFormat::Fp32);
  TrainState(const TrainState&) = delete;
  TrainState& operator=(const TrainState&) = delete;

  // Every replica from the model's initialization for `seed` (all equal, as in the paper), and
  // the tables too.
  void initialize(const Model& model, uint64_t seed);

  // The sync rule's state buffers (owned by the rule), saved and loaded as sync_state.
  void set_sync_state(std::vector<std::pair<float*, size_t>> buffers) { sync_state_ = std::move(buffers); }

  // Writes `header` and every section to `path` atomically (fsync, rename, folder fsync).
  // Requires Parts::Everything. Throws Error naming the path.
  void save(const std::string& path, const nlohmann::json& header) const;
  // Checks the size of every section this state holds against `reader` before reading any
  // (Error "... has N bytes, the header implies M"), then reads them. Sections this state does
  // not hold are skipped (they were checksummed by the reader). A sync_state section without
  // sync state here is refused: "<where>: section 'sync_state' is not used by <what>".
  void load(const CheckpointReader& reader, const std::string& where, const std::string& what_has_no_sync_state) ;

  int replica_count() const { return static_cast<int>(replicas_.size()); }
  size_t dense_floats() const { return dense_floats_; }
  float* replica(int r) { return replicas_[static_cast<size_t>(r)].data(); }
  const float* replica(int r) const { return replicas_[static_cast<size_t>(r)].data(); }
  float* optimizer_state(int r) { return optimizer_state_[static_cast<size_t>(r)].data(); }
  std::vector<float*> optimizer_state_pointers();  // one per replica; empty for Parts::Model
  std::vector<float*> replica_pointers();
  std::vector<const float*> const_replica_pointers() const;
  EmbeddingStore& embeddings() { return *embeddings_; }
  const EmbeddingStore& embeddings() const { return *embeddings_; }

  std::vector<GroupProgressState> progress;  // one per group (the engine keeps it up to date)

 private:
  struct Section {
    const char* name;
    std::vector<std::pair<float*, size_t>> parts;
  };
  // The one list of float sections, in file order; empty parts = not held by this state.
  std::vector<Section> sections() const;

  size_t dense_floats_ = 0;
  std::vector<AlignedFloatBuffer> replicas_;
  std::vector<AlignedFloatBuffer> optimizer_state_;  // empty for Parts::Model
  std::unique_ptr<EmbeddingStore> embeddings_;
  bool embedding_state_ = true;
  std::vector<std::pair<float*, size_t>> sync_state_;
};

}  // namespace shadowsync
