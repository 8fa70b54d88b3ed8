// Tests of the checkpoint file format: exact round trip, atomic replacement, and refusal of a
// wrong magic, another version, truncation, a corrupted section and a missing section.
#include "shadowsync/checkpoint.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "shadowsync/checksum.hpp"
#include "shadowsync/error.hpp"

namespace shadowsync {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("shadowsync_ckpt_" + name)).string();
}

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string write_sample(const std::string& name, const std::vector<float>& a, const std::vector<float>& b) {
  const std::string path = temp_path(name);
  CheckpointWriter writer(path);
  writer.add_json("header", {{"groups", 2}, {"note", "test"}});
  writer.add_floats("a", a.data(), a.size());
  writer.add_float_parts("b", {{b.data(), 3}, {b.data() + 3, b.size() - 3}});
  writer.commit();
  return path;
}

std::string error_of(const std::string& path) {
  try {
    CheckpointReader reader(path);
    reader.json("header");
    std::vector<float> a(5);
    reader.read_floats("a", a.data(), a.size());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Checkpoint, RoundTripIsExact) {
  const std::vector<float> a = {1.5f, -2.25f, 3e-30f, 7.0f, -0.0f};
  const std::vector<float> b = {9, 8, 7, 6, 5, 4, 3};
  const std::string path = write_sample("roundtrip", a, b);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  CheckpointReader reader(path);
  EXPECT_EQ(reader.json("header").at("groups"), 2);
  std::vector<float> a2(a.size()), b2(b.size());
  reader.read_floats("a", a2.data(), a2.size());
  reader.read_float_parts("b", {{b2.data(), 4}, {b2.data() + 4, 3}});
  EXPECT_EQ(0, std::memcmp(a.data(), a2.data(), a.size() * sizeof(float)));
  EXPECT_EQ(b, b2);
  EXPECT_TRUE(reader.has("b"));
  EXPECT_FALSE(reader.has("c"));
  std::remove(path.c_str());
}

TEST(Checkpoint, RefusesWrongSizeAndMissingSection) {
  const std::string path = write_sample("sizes", {1, 2, 3, 4, 5}, {1, 2, 3, 4});
  CheckpointReader reader(path);
  std::vector<float> out(6);
  try {
    reader.read_floats("a", out.data(), 6);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("section 'a' has 20 bytes, this model needs 24"), std::string::npos) << e.what();
  }
  try {
    reader.read_floats("zzz", out.data(), 1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("section 'zzz' is missing"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(Checkpoint, RefusesCorruptedTruncatedAndForeignFiles) {
  const std::string path = write_sample("bad", {1, 2, 3, 4, 5}, {1, 2, 3, 4});
  const std::vector<char> good = read_bytes(path);

  std::vector<char> corrupted = good;
  corrupted[corrupted.size() - 5] ^= 0x10;  // inside section "b"
  write_bytes(path, corrupted);
  EXPECT_NE(error_of(path).find("section 'b' is corrupted (checksum mismatch)"), std::string::npos) << error_of(path);

  write_bytes(path, std::vector<char>(good.begin(), good.end() - 7));
  EXPECT_NE(error_of(path).find("truncated"), std::string::npos) << error_of(path);

  write_bytes(path, std::vector<char>(good.begin(), good.begin() + 10));
  EXPECT_NE(error_of(path).find("truncated"), std::string::npos) << error_of(path);

  std::vector<char> magic = good;
  magic[0] = 'X';
  write_bytes(path, magic);
  EXPECT_NE(error_of(path).find("wrong magic"), std::string::npos) << error_of(path);

  std::vector<char> version = good;
  version[8] = 9;
  write_bytes(path, version);
  EXPECT_NE(error_of(path).find("format version 9"), std::string::npos) << error_of(path);

  std::vector<char> extra = good;
  extra.push_back('x');
  write_bytes(path, extra);
  EXPECT_NE(error_of(path).find("unexpected bytes"), std::string::npos) << error_of(path);

  std::remove(path.c_str());
  EXPECT_NE(error_of(path).find("cannot open"), std::string::npos);
  EXPECT_NE(error_of(path).find(path), std::string::npos) << "the message names the file";
}

TEST(Checkpoint, FailedWriterLeavesOldFileInPlace) {
  const std::string path = write_sample("atomic", {1, 2, 3, 4, 5}, {1, 2, 3, 4});
  {
    CheckpointWriter writer(path);
    writer.add_json("header", {{"groups", 99}});
    // destroyed without commit(): the old checkpoint must survive untouched
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  CheckpointReader reader(path);
  EXPECT_EQ(reader.json("header").at("groups"), 2);
  std::remove(path.c_str());
}

TEST(Checksum, StableValuesAndSensitivity) {
  const std::string text = "shadowsync checkpoint checksum test vector, 64+ bytes long......!";
  const uint64_t a = checksum64(text.data(), text.size());
  EXPECT_EQ(a, checksum64(text.data(), text.size()));
  std::string flipped = text;
  flipped[40] ^= 1;
  EXPECT_NE(a, checksum64(flipped.data(), flipped.size()));
  EXPECT_NE(a, checksum64(text.data(), text.size() - 1));
  // Streaming in any split equals the one-shot digest.
  for (size_t split : {0, 1, 7, 31, 32, 33, 50}) {
    Checksum64 sum;
    sum.update(text.data(), split);
    sum.update(text.data() + split, text.size() - split);
    EXPECT_EQ(sum.digest(), a) << "split at " << split;
  }
  EXPECT_NE(checksum64(text.data(), text.size(), 1), a);
  // Pinned value: the on-disk format depends on it.
  EXPECT_EQ(checksum64("abc", 3), 0xa635808163093eebull);
}

}  // namespace
}  // namespace shadowsync
