// Tests of the checkpoint file format: exact round trip, atomic replacement, and refusal of a
// wrong magic, another version, truncation, a corrupted section and a missing section; two
// writers of one path, the checkpoint lock, duplicate and unknown sections, deep or duplicate-key
// JSON headers, typed header fields, and that failed opens release their mapping.
#include "train/checkpoint.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/checksum.hpp"
#include "shadowsync/core/error.hpp"
#include "../common/temp_paths.hpp"

namespace shadowsync {
namespace {

std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_ckpt", name); }

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
  EXPECT_NE(error_of(path).find("format version 9, this build reads versions 1 to 2"), std::string::npos)
      << error_of(path);
  version[8] = 0;
  write_bytes(path, version);
  EXPECT_NE(error_of(path).find("format version 0"), std::string::npos) << error_of(path);
  version[8] = 1;  // written before schemas existed: still read
  write_bytes(path, version);
  EXPECT_EQ(error_of(path), "") << error_of(path);

  std::vector<char> extra = good;
  extra.push_back('x');
  write_bytes(path, extra);
  EXPECT_NE(error_of(path).find("unexpected bytes"), std::string::npos) << error_of(path);

  std::remove(path.c_str());
  EXPECT_NE(error_of(path).find("cannot open"), std::string::npos);
  EXPECT_NE(error_of(path).find(path), std::string::npos) << "the message names the file";
}

// A FIFO (or device) given as a checkpoint is refused at once, never waited on.
TEST(Checkpoint, FifoIsRefusedWithoutBlocking) {
  const std::string path = temp_path("fifo");
  std::remove(path.c_str());
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  const std::string m = error_of(path);
  EXPECT_NE(m.find(path), std::string::npos) << m;
  EXPECT_NE(m.find("is a FIFO"), std::string::npos) << m;
  std::remove(path.c_str());
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

// A checkpoint built byte by byte (so tests can make files the writer never would).
std::vector<char> raw_checkpoint(const std::vector<std::pair<std::string, std::string>>& sections) {
  std::vector<char> out = {'S', 'S', 'Y', 'N', 'C', 'C', 'K', 'P'};
  auto append = [&](const void* data, size_t bytes) {
    const char* p = static_cast<const char*>(data);
    out.insert(out.end(), p, p + bytes);
  };
  const uint32_t version = kCheckpointVersion;
  const uint32_t count = static_cast<uint32_t>(sections.size());
  append(&version, 4);
  append(&count, 4);
  for (const auto& [name, payload] : sections) {
    char header[32] = {};
    std::memcpy(header, name.data(), name.size());
    append(header, sizeof header);
    const uint64_t bytes = payload.size();
    const uint64_t sum = checksum64(payload.data(), payload.size());
    append(&bytes, 8);
    append(&sum, 8);
    append(payload.data(), payload.size());
  }
  return out;
}

std::string open_error(const std::string& path) {
  try {
    CheckpointReader reader(path);
    reader.json("header");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

size_t mapping_count() {
  std::ifstream maps("/proc/self/maps");
  size_t lines = 0;
  for (std::string line; std::getline(maps, line);) ++lines;
  return lines;
}

TEST(Checkpoint, TwoInterleavedWritersOfOnePathLeaveAValidFile) {
  const std::string path = temp_path("two_writers");
  std::remove(path.c_str());
  const std::vector<float> first(1000, 1.0f);
  const std::vector<float> second(10, 2.0f);
  {
    CheckpointWriter a(path);
    CheckpointWriter b(path);
    a.add_json("header", {{"writer", "a"}});
    b.add_json("header", {{"writer", "b"}});
    a.add_floats("x", first.data(), first.size());
    b.add_floats("x", second.data(), second.size());
    a.commit();
    b.commit();
  }
  CheckpointReader reader(path);  // before the fix: both wrote PATH.tmp, and this failed its checksum
  EXPECT_EQ(reader.json("header").at("writer"), "b");
  std::vector<float> x(second.size());
  reader.read_floats("x", x.data(), x.size());
  EXPECT_EQ(x, second);
  std::remove(path.c_str());
}

TEST(Checkpoint, LockRefusesASecondHolderAndIsReleased) {
  const std::string path = temp_path("locked.ckpt");
  {
    CheckpointLock first(path);
    try {
      CheckpointLock second(path);
      FAIL() << "a second lock on the same checkpoint was granted";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(path), std::string::npos) << message;
      EXPECT_NE(message.find("another training run"), std::string::npos) << message;
    }
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".lock")) << "the lock file is removed when its holder lets go";
  {
    CheckpointLock again(path);  // released with its holder
    EXPECT_TRUE(std::filesystem::exists(path + ".lock"));
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".lock"));
}

// A stale lock file (a run that died keeps nothing locked) is taken and then removed.
TEST(Checkpoint, AStaleLockFileIsTakenAndRemoved) {
  const std::string path = temp_path("stale.ckpt");
  std::ofstream(path + ".lock").put(0);
  { CheckpointLock lock(path); }
  EXPECT_FALSE(std::filesystem::exists(path + ".lock"));
}

// Many threads contending for one path: at every moment at most one holds it, although each
// holder removes the file it locked (a locker that opened the removed file starts over).
TEST(Checkpoint, RemovingTheLockFileNeverLetsTwoHoldersIn) {
  const std::string path = temp_path("contended.ckpt");
  std::atomic<int> holders{0}, most{0}, granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        try {
          CheckpointLock lock(path);
          const int now = holders.fetch_add(1) + 1;
          int seen = most.load();
          while (now > seen && !most.compare_exchange_weak(seen, now)) {
          }
          granted.fetch_add(1);
          std::this_thread::yield();
          holders.fetch_sub(1);
        } catch (const Error&) {
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(most.load(), 1) << "two holders of one checkpoint lock at once";
  EXPECT_GT(granted.load(), 0);
  EXPECT_FALSE(std::filesystem::exists(path + ".lock"));
}

TEST(Checkpoint, RefusesDuplicateAndUnknownSections) {
  const std::string path = temp_path("sections");
  write_bytes(path, raw_checkpoint({{"header", "{}"}, {"replicas", ""}, {"replicas", ""}}));
  EXPECT_NE(open_error(path).find("section 'replicas' appears twice"), std::string::npos) << open_error(path);

  write_bytes(path, raw_checkpoint({{"header", "{}"}, {"replicas", ""}, {"mystery", "x"}}));
  try {
    CheckpointReader reader(path);
    reader.refuse_unknown_sections({"header", "replicas"});
    FAIL() << "unknown section accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown section 'mystery'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(Checkpoint, FailedOpensReleaseTheirMapping) {
  const std::string path = temp_path("leak");
  std::string header = "{\"x\": 1}";
  std::vector<char> bytes = raw_checkpoint({{"header", header}});
  bytes[bytes.size() - 2] ^= 1;  // checksum mismatch: refused after mapping
  write_bytes(path, bytes);
  ASSERT_NE(open_error(path).find("corrupted"), std::string::npos);
  const size_t before = mapping_count();
  for (int i = 0; i < 1000; ++i) open_error(path);
  EXPECT_LT(mapping_count(), before + 10) << "every refused checkpoint must be unmapped";
  std::remove(path.c_str());
}

TEST(Checkpoint, DeeplyNestedHeaderIsRefusedWithoutRecursion) {
  const std::string path = temp_path("deep");
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  write_bytes(path, raw_checkpoint({{"header", deep}}));
  const std::string message = open_error(path);
  EXPECT_NE(message.find("nested deeper than 64"), std::string::npos) << message.substr(0, 300);
  EXPECT_NE(message.find(path), std::string::npos) << message.substr(0, 300);
  EXPECT_LT(message.size(), 400u) << "the message does not echo the document";

  write_bytes(path, raw_checkpoint({{"header", "{\"groups\": 1, \"groups\": 2}"}}));
  EXPECT_NE(open_error(path).find("duplicate key \"groups\""), std::string::npos) << open_error(path);

  write_bytes(path, raw_checkpoint({{"header", "{\"groups\": 1e400}"}}));  // nlohmann: out_of_range
  EXPECT_NE(open_error(path).find("section 'header': invalid JSON"), std::string::npos) << open_error(path);
  std::remove(path.c_str());
}

TEST(Checkpoint, HeaderFieldsAreTypeAndRangeChecked) {
  const std::string where = "checkpoint 'x.ckpt'";
  const nlohmann::json header = nlohmann::json::parse(
      R"({"ok": 7, "float": 1e300, "neg": -7, "frac": -1.5, "half": 2.5, "max": 18446744073709551615,
          "wide": 4294967298, "text": "7", "obj": {"a": 1}})");
  EXPECT_EQ(json_uint(header, "ok", 1, 10, where), 7u);
  auto message = [&](const char* field, uint64_t max) {
    try {
      json_uint(header, field, 1, max, where);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  for (const char* field : {"float", "neg", "frac", "half", "text", "obj"}) {
    const std::string m = message(field, 4096);
    EXPECT_NE(m.find(std::string("'").append(field).append("'")), std::string::npos) << m;
    EXPECT_NE(m.find("x.ckpt"), std::string::npos) << m;
    EXPECT_NE(m.find("must be an integer in 1..4096"), std::string::npos) << m;
  }
  EXPECT_NE(message("max", 4096).find("got 18446744073709551615"), std::string::npos) << message("max", 4096);
  EXPECT_NE(message("wide", 0xFFFFFFFFull).find("got 4294967298"), std::string::npos);
  EXPECT_NE(message("missing", 10).find("missing field 'missing'"), std::string::npos) << message("missing", 10);
  EXPECT_NE(message("ok", 5).find("got 7"), std::string::npos);
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
