// save_model / load_model: a standalone file of one dense replica (+ optional Adagrad state) and
// the embedding tables with their accumulators, with the model config and a checksum. Format in
// src/model/model_io.hpp.
#include "model/model_io.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/checksum.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/core/file_io.hpp"

namespace shadowsync {
namespace {

constexpr char kMagic[8] = {'S', 'H', 'S', 'M', 'O', 'D', 'L', '1'};

// Checksums what it writes; the file appears at its path only on finish() (AtomicFileWriter).
class Writer {
 public:
  explicit Writer(const std::string& path) : out_(path) {}
  void bytes(const void* data, size_t n) {
    out_.write(data, n);
    sum_ = checksum64(data, n, sum_);
  }
  void u64(uint64_t v) { bytes(&v, sizeof v); }
  void finish() {
    const uint64_t sum = sum_;
    out_.write(&sum, sizeof sum);
    out_.commit();
  }

 private:
  AtomicFileWriter out_;
  uint64_t sum_ = 0;
};

class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) throw Error(path + ": cannot open model file");
  }
  void bytes(void* data, size_t n, const char* what) {
    in_.read(static_cast<char*>(data), std::streamsize(n));
    if (size_t(in_.gcount()) != n) throw Error(path_ + ": truncated model file (while reading " + what + ")");
    sum_ = checksum64(data, n, sum_);
  }
  uint64_t u64(const char* what) {
    uint64_t v = 0;
    bytes(&v, sizeof v, what);
    return v;
  }
  void check_sum() {
    uint64_t stored = 0;
    in_.read(reinterpret_cast<char*>(&stored), sizeof stored);
    if (in_.gcount() != sizeof stored) throw Error(path_ + ": truncated model file (checksum missing)");
    if (stored != sum_) throw Error(path_ + ": checksum mismatch (corrupted model file)");
    if (in_.peek() != std::char_traits<char>::eof()) throw Error(path_ + ": unexpected bytes after the checksum");
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ifstream in_;
  uint64_t sum_ = 0;
};

ModelConfig read_header(Reader& reader) {
  char magic[8];
  reader.bytes(magic, sizeof magic, "magic");
  if (std::memcmp(magic, kMagic, sizeof magic) != 0) throw Error(reader.path() + ": not a shadowsync model file (bad magic)");
  const uint64_t length = reader.u64("config length");
  if (length > (1u << 24)) throw Error(reader.path() + ": implausible config length " + std::to_string(length));
  std::string text(length, '\0');
  reader.bytes(text.data(), length, "config");
  const nlohmann::json j = parse_untrusted_json(text, reader.path() + ": model config");
  return ModelConfig::from_json(j, reader.path() + ": model");
}

}  // namespace

void save_model(const std::string& path, const Model& model, const float* dense,
                const EmbeddingStore& embeddings, const float* dense_state) {
  const ModelConfig& config = model.config();
  if (embeddings.dim() != config.embedding_dim || embeddings.hashing() != config.hashing) {
    throw Error(path + ": embedding store does not match the model (dim / hashing)");
  }
  {
    Writer w(path);
    w.bytes(kMagic, sizeof kMagic);
    const std::string text = config.to_json().dump();
    w.u64(text.size());
    w.bytes(text.data(), text.size());
    w.u64(dense_state != nullptr ? 1 : 0);
    const size_t n = model.layout().total_floats;
    w.u64(n);
    w.bytes(dense, n * sizeof(float));
    if (dense_state != nullptr) w.bytes(dense_state, n * sizeof(float));
    for (int t = 0; t < kNumSparse; ++t) {
      w.bytes(embeddings.table_data(t), embeddings.table_floats(t) * sizeof(float));
      w.bytes(embeddings.accumulator(t), embeddings.rows(t) * sizeof(float));
    }
    w.finish();
  }
}

ModelConfig read_model_config(const std::string& path) {
  Reader reader(path);
  return read_header(reader);
}

void load_model(const std::string& path, const Model& model, float* dense,
                EmbeddingStore& embeddings, float* dense_state) {
  Reader r(path);
  const ModelConfig stored = read_header(r);
  if (!(stored == model.config())) {
    throw Error(path + ": the file's model config " + stored.to_json().dump() +
                " differs from the model's " + model.config().to_json().dump());
  }
  if (embeddings.dim() != stored.embedding_dim || embeddings.hashing() != stored.hashing) {
    throw Error(path + ": embedding store does not match the file's model (dim / hashing)");
  }
  const uint64_t flags = r.u64("flags");
  if (flags > 1) throw Error(path + ": unknown flags " + std::to_string(flags));
  const bool has_state = (flags & 1) != 0;
  if (dense_state != nullptr && !has_state) throw Error(path + ": the file has no dense optimizer state");
  const uint64_t n = r.u64("dense size");
  if (n != model.layout().total_floats) {
    throw Error(path + ": dense size " + std::to_string(n) + " differs from the model's " +
                std::to_string(model.layout().total_floats));
  }
  r.bytes(dense, n * sizeof(float), "dense parameters");
  if (has_state) {
    if (dense_state != nullptr) {
      r.bytes(dense_state, n * sizeof(float), "dense optimizer state");
    } else {
      std::vector<float> skip(n);
      r.bytes(skip.data(), n * sizeof(float), "dense optimizer state");
    }
  }
  for (int t = 0; t < kNumSparse; ++t) {
    r.bytes(embeddings.table_data(t), embeddings.table_floats(t) * sizeof(float), "embedding table");
    r.bytes(embeddings.accumulator(t), embeddings.rows(t) * sizeof(float), "embedding accumulators");
  }
  r.check_sum();
}

}  // namespace shadowsync
