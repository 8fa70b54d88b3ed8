// save_model / load_model: exact round trip and the errors for wrong, truncated or corrupted files;
// saving is atomic through a temporary of its own, and a deeply nested config is refused.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/model/model.hpp"
#include "model/model_io.hpp"

namespace shadowsync {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("shadowsync_model_io_" + name)).string();
}

TEST(ModelIo, RoundTripIsExact) {
  const ModelConfig config = ModelConfig::preset("small", HashingConfig::uniform(100, 4));
  const Model model(config);
  const size_t n = model.layout().total_floats;
  AlignedFloatBuffer dense(n), state(n);
  model.init_dense(dense.data(), 8);
  for (size_t i = 0; i < n; ++i) state[i] = float(i % 7) * 0.125f;
  EmbeddingStore store(config.hashing, 16);
  model.init_embeddings(store, 8);
  for (int t = 0; t < kNumSparse; ++t) store.accumulator(t)[t] = 1.5f + float(t);
  const std::string path = temp_path("a.bin");
  save_model(path, model, dense.data(), store, state.data());
  EXPECT_EQ(read_model_config(path), config);

  AlignedFloatBuffer dense2(n), state2(n);
  EmbeddingStore store2(config.hashing, 16);
  load_model(path, model, dense2.data(), store2, state2.data());
  EXPECT_EQ(std::memcmp(dense.data(), dense2.data(), n * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(state.data(), state2.data(), n * sizeof(float)), 0);
  for (int t = 0; t < kNumSparse; ++t) {
    EXPECT_EQ(std::memcmp(store.table_data(t), store2.table_data(t), store.table_floats(t) * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(store.accumulator(t), store2.accumulator(t), store.rows(t) * sizeof(float)), 0);
  }
  // Loading without the state is fine; asking for a state the file lacks is not.
  AlignedFloatBuffer dense3(n);
  load_model(path, model, dense3.data(), store2);
  EXPECT_EQ(std::memcmp(dense.data(), dense3.data(), n * sizeof(float)), 0);
  save_model(path, model, dense.data(), store);
  EXPECT_THROW(load_model(path, model, dense3.data(), store2, state2.data()), Error);
}

TEST(ModelIo, BadFilesAreRejected) {
  const ModelConfig config = ModelConfig::preset("tiny", HashingConfig::uniform(20));
  const Model model(config);
  const size_t n = model.layout().total_floats;
  AlignedFloatBuffer dense(n);
  model.init_dense(dense.data(), 1);
  EmbeddingStore store(config.hashing, 4);
  model.init_embeddings(store, 1);
  const std::string path = temp_path("b.bin");
  save_model(path, model, dense.data(), store);
  const auto size = std::filesystem::file_size(path);

  auto expect_error = [&](const std::string& p, const Model& m, EmbeddingStore& s, const std::string& part) {
    try {
      load_model(p, m, dense.data(), s);
      ADD_FAILURE() << "no error for " << part;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  };
  // Another architecture.
  ModelConfig other_config = config;
  other_config.top = {16, 1};
  const Model other(other_config);
  expect_error(path, other, store, "differs");
  // Corrupted byte in the middle (a table).
  const std::string corrupt = temp_path("c.bin");
  std::filesystem::copy_file(path, corrupt, std::filesystem::copy_options::overwrite_existing);
  {
    std::fstream f(corrupt, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(std::streamoff(size - 100));
    char c = 0;
    f.read(&c, 1);
    c = char(c ^ 0x40);
    f.seekp(std::streamoff(size - 100));
    f.write(&c, 1);
  }
  expect_error(corrupt, model, store, "checksum mismatch");
  // Truncated.
  std::filesystem::resize_file(corrupt, size - 20);
  expect_error(corrupt, model, store, "truncated");
  // Not a model file.
  std::ofstream(corrupt, std::ios::trunc) << "hello, this is not a model";
  expect_error(corrupt, model, store, "bad magic");
  expect_error(temp_path("missing.bin"), model, store, "cannot open");
}

TEST(ModelIo, SavingUsesATemporaryOfItsOwn) {
  const ModelConfig config = ModelConfig::preset("tiny", HashingConfig::uniform(20));
  const Model model(config);
  AlignedFloatBuffer dense(model.layout().total_floats);
  model.init_dense(dense.data(), 1);
  EmbeddingStore store(config.hashing, 4);
  model.init_embeddings(store, 1);
  const std::string path = temp_path("own_temp.bin");
  // Someone else's file named PATH.tmp: before, save_model truncated it and renamed it away.
  std::ofstream(path + ".tmp") << "not ours";
  save_model(path, model, dense.data(), store);
  std::ifstream other(path + ".tmp");
  std::string text;
  std::getline(other, text);
  EXPECT_EQ(text, "not ours");
  EXPECT_EQ(read_model_config(path), config);
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path())) {
    const std::string name = entry.path().filename().string();
    EXPECT_FALSE(name.starts_with("shadowsync_model_io_own_temp.bin.tmp.")) << "temporary left behind: " << name;
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".tmp");
}

TEST(ModelIo, DeeplyNestedConfigIsRefused) {
  const std::string path = temp_path("deep.bin");
  const std::string text = std::string(100000, '[') + std::string(100000, ']');
  {
    std::ofstream out(path, std::ios::binary);
    out.write("SHSMODL1", 8);
    const uint64_t length = text.size();
    out.write(reinterpret_cast<const char*>(&length), 8);
    out << text;
  }
  try {
    read_model_config(path);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": model config: JSON nested deeper than 64 levels"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace shadowsync
