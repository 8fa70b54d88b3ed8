// Tests of `shadowsync convert` and `shadowsync stats` as processes: the cache written by
// convert equals the parsed rows, the summary and JSON statistics match values computed here,
// and bad options / files fail with messages naming them. The executable's path comes in
// SHADOWSYNC_EXE (tests/data/meson.build).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "../common/run_command.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/data/hashing.hpp"
#include "shadowsync/data/schema_request.hpp"
#include "test_util.hpp"

namespace shadowsync {
namespace {

using test::RunResult;

RunResult run(const std::string& args, bool merge = true) { return test::run_shadowsync(args, merge); }

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint64_t i = 0; i < 400; ++i) {
      text_ += test::format_line(test::pattern_line(i)) + "\n";
      if (i == 99) text_ += "1\t\t\tx\n";  // line 101 is bad
    }
    tsv_ = dir_.write("in.tsv", text_);
  }
  test::TempDir dir_;
  std::string text_;
  std::string tsv_;
};

TEST_F(CliTest, ConvertWritesTheParsedRows) {
  const std::string cache = dir_.file("out.cache");
  const RunResult r = run("convert '" + tsv_ + "' '" + cache + "' --rows-per-table 777 --hash-salt 9");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(tsv_ + ": 400 rows from 401 lines, 1 bad lines skipped"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find(tsv_ + ":101: I3 (field 4): 'x' is not an integer"), std::string::npos);
  EXPECT_NE(r.output.find("MB/s"), std::string::npos);
  ParseOptions o;
  o.hashing = HashingConfig::uniform(777, 9);
  const DataBlock parsed = parse_criteo_text(text_, "x", o);
  const MappedCache mapped = MappedCache::open(cache, o.hashing);
  ASSERT_EQ(mapped.rows(), 400u);
  EXPECT_EQ(std::memcmp(mapped.view().sparse, parsed.sparse(), 400 * kNumSparse * 4), 0);
  EXPECT_EQ(std::memcmp(mapped.view().numeric, parsed.numeric(), 400 * kNumNumeric * 4), 0);
  EXPECT_EQ(std::memcmp(mapped.view().labels, parsed.labels(), 400 * 4), 0);
}

TEST_F(CliTest, ConvertErrors) {
  const std::string out = dir_.file("o.cache");
  RunResult r = run("convert '" + tsv_ + "' '" + out + "' --strict");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(tsv_ + ":101: I3 (field 4): 'x' is not an integer"), std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
  r = run("convert '" + tsv_ + "' '" + out + "' --rows-per-table 1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--rows-per-table"), std::string::npos) << r.output;
  r = run("convert '" + tsv_ + "' '" + out + "' --rows-per-table 4294967296");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--rows-per-table"), std::string::npos) << r.output;
  r = run("convert '" + tsv_ + "' '" + out + "' --hash-salt -1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--hash-salt"), std::string::npos) << r.output;
  r = run("convert '" + dir_.file("none.tsv") + "' '" + out + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(dir_.file("none.tsv") + ": cannot open"), std::string::npos);
  r = run("convert '" + tsv_ + "' '" + dir_.file("no/dir/x") + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("cannot create"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(CliTest, StatsJsonMatchesTheData) {
  ParseOptions o;
  o.hashing = HashingConfig::uniform(50);
  ParseReport report;
  const DataBlock parsed = parse_criteo_text(text_, "x", o, &report);
  const std::string cache = dir_.file("s.cache");
  write_cache(cache, parsed.view(), o.hashing, report.numeric_missing);
  for (const std::string& file : {tsv_, cache}) {
    const RunResult r = run("stats '" + file + "' --rows-per-table 50 --json", false);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const nlohmann::json j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["file"], file);
    EXPECT_EQ(j["format"], file == cache ? "cache" : "tsv");
    EXPECT_EQ(j["rows"], 400);
    EXPECT_EQ(j["bad_lines"], file == cache ? 0 : 1);
    // pattern_line: label 1 when i % 3 == 0 -> 134 of 400.
    EXPECT_DOUBLE_EQ(j["positive_rate"].get<double>(), 134.0 / 400.0);
    for (int f = 0; f < kNumNumeric; ++f) {
      double sum = 0, max = 0;
      for (size_t i = 0; i < 400; ++i) {
        const float x = parsed.numeric()[i * kNumNumeric + f];
        sum += x;
        max = std::max<double>(max, x);
      }
      const nlohmann::json& d = j["dense"][f];
      EXPECT_NEAR(d["mean"].get<double>(), sum / 400, 1e-9) << f;
      EXPECT_DOUBLE_EQ(d["max"].get<double>(), max) << f;
      EXPECT_DOUBLE_EQ(d["missing_share"].get<double>(), report.numeric_missing[f] / 400.0) << f;
    }
    for (int t = 0; t < kNumSparse; ++t) {
      std::set<uint32_t> used;
      int missing = 0;
      for (size_t i = 0; i < 400; ++i) {
        const uint32_t row = parsed.sparse()[i * kNumSparse + t];
        if (row == 0) ++missing; else used.insert(row);
      }
      const nlohmann::json& s = j["sparse"][t];
      EXPECT_EQ(s["name"].get<std::string>(), fmt::format("C{}", t + 1));
      EXPECT_EQ(s["distinct_rows"].get<size_t>(), used.size()) << t;
      EXPECT_DOUBLE_EQ(s["missing_share"].get<double>(), missing / 400.0) << t;
      EXPECT_DOUBLE_EQ(s["used_share"].get<double>(), used.size() / 49.0) << t;
    }
  }
}

TEST_F(CliTest, StatsTextAndErrors) {
  RunResult r = run("stats '" + tsv_ + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("positive rate 0.3350"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("I13"), std::string::npos);
  EXPECT_NE(r.output.find("C26"), std::string::npos);
  const std::string cache = dir_.file("c.cache");
  ASSERT_EQ(run("convert '" + tsv_ + "' '" + cache + "'").exit_code, 0);
  r = run("stats '" + cache + "' --rows-per-table 1000");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(cache + ": cache was hashed with rows per table 131072"),
            std::string::npos) << r.output;
  r = run("stats '" + dir_.path().string() + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("is a directory"), std::string::npos);
  r = run("stats '" + tsv_ + "' --rows-per-table abc");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--rows-per-table"), std::string::npos) << r.output;
}

// Runs `shadowsync ARGS` under timeout(1) (exit 124 when it hangs), stderr merged.
RunResult run_with_timeout(const std::string& args, int seconds = 30) {
  return test::run_shell_command(
      fmt::format("timeout {} '{}' {} 2>&1", seconds, test::shadowsync_exe(), args));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Tables larger than the documented range (the bitmap of 2^32 - 1 rows overflowed uint32 and
// crashed): every command refuses them as a usage error naming the option and the range.
TEST_F(CliTest, RowsPerTableHasOneDocumentedRange) {
  const std::string out = dir_.file("r.cache");
  for (const std::string& command : {"stats '" + tsv_ + "'", "convert '" + tsv_ + "' '" + out + "'"}) {
    for (const char* value : {"4294967295", "4294967296", "1073741825", "1", "-3"}) {
      const RunResult r = run(command + " --rows-per-table " + value);
      EXPECT_EQ(r.exit_code, 2) << command << " " << value << "\n" << r.output;
      EXPECT_NE(r.output.find("--rows-per-table"), std::string::npos) << r.output;
    }
    const RunResult r = run(command + " --rows-per-table 4294967295");
    EXPECT_NE(r.output.find("--rows-per-table expects an integer in [2, 1073741824], got 4294967295"),
              std::string::npos) << r.output;
  }
  EXPECT_EQ(run("stats '" + tsv_ + "' --rows-per-table 1073741824 --json", false).exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(out));
}

// stats on a cache uses the cache's own hashing, as train and eval do.
TEST_F(CliTest, StatsUsesTheCachesOwnHashing) {
  const std::string cache = dir_.file("own.cache");
  ASSERT_EQ(run("convert '" + tsv_ + "' '" + cache + "' --rows-per-table 1000 --hash-salt 4").exit_code, 0);
  RunResult r = run("stats '" + cache + "' --json", false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["rows"], 400);
  EXPECT_EQ(j["hashing"]["salt"], 4);
  EXPECT_EQ(j["hashing"]["rows_per_table"][0], 1000);
  EXPECT_EQ(j["sparse"][3]["table_rows"], 1000);
  // Matching options are fine; a mismatch names both hashings.
  EXPECT_EQ(run("stats '" + cache + "' --rows-per-table 1000 --hash-salt 4").exit_code, 0);
  r = run("stats '" + cache + "' --hash-salt 5");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("cache was hashed with rows per table 1000, salt 4, but rows per table "
                          "1000, salt 5 is expected"),
            std::string::npos)
      << r.output;
}

// A FIFO as input is read as a stream: convert of a FIFO fed by the shell gives the same cache
// as convert of the file; so does standard input (-).
TEST_F(CliTest, FifoAndStdinInputAreReadAsStreams) {
  const std::string fifo = dir_.file("stream.tsv");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string from_file = dir_.file("file.cache"), from_fifo = dir_.file("fifo.cache"),
                    from_stdin = dir_.file("stdin.cache");
  ASSERT_EQ(run("convert '" + tsv_ + "' '" + from_file + "'").exit_code, 0);
  RunResult r = run_with_timeout("convert '" + fifo + "' '" + from_fifo + "' & cat '" + tsv_ +
                                 "' > '" + fifo + "'; wait $!");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(fifo + ": 400 rows from 401 lines, 1 bad lines skipped"),
            std::string::npos) << r.output;
  r = run("convert - '" + from_stdin + "' < '" + tsv_ + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("<stdin>: 400 rows from 401 lines, 1 bad lines skipped"),
            std::string::npos) << r.output;
  const auto bytes = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(bytes(from_fifo), bytes(from_file));
  EXPECT_EQ(bytes(from_stdin), bytes(from_file));
}

// Compressed input (gzip, zstd, told by magic, not name) gives the same cache as the text; a
// truncated one is an error naming the file and the offset, and leaves no cache behind.
// Comma-separated input: an error saying what the file is, no garbage cache.
TEST_F(CliTest, ConvertReadsCompressedInputAndRefusesCsv) {
  const std::string out = dir_.file("z.cache"), plain = dir_.file("plain.cache");
  ASSERT_EQ(run("convert '" + tsv_ + "' '" + plain + "'").exit_code, 0);
  const std::string gz = dir_.file("in.tsv.gz"), zst = dir_.file("in.data");
  ASSERT_EQ(std::system(fmt::format("gzip -c '{}' > '{}'", tsv_, gz).c_str()), 0);
  ASSERT_EQ(std::system(fmt::format("zstd -q -c '{}' > '{}'", tsv_, zst).c_str()), 0);
  for (const std::string& in : {gz, zst}) {
    const RunResult ok = run("convert '" + in + "' '" + out + "'");
    EXPECT_EQ(ok.exit_code, 0) << ok.output;
    EXPECT_NE(ok.output.find(in + ": 400 rows from 401 lines, 1 bad lines skipped"),
              std::string::npos) << ok.output;
    EXPECT_EQ(read_file(out), read_file(plain)) << in;
    std::filesystem::remove(out);
  }
  const std::string cut = dir_.file("cut.gz");
  const std::string gz_bytes = read_file(gz);
  { std::ofstream(cut, std::ios::binary) << gz_bytes.substr(0, gz_bytes.size() / 2); }
  RunResult r = run("convert '" + cut + "' '" + out + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(fmt::format("{}: truncated gzip data: the file ends at compressed "
                                      "offset {} inside a gzip member",
                                      cut, gz_bytes.size() / 2)),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().filename().string().find("z.cache"), std::string::npos)
        << "left behind: " << entry.path();
  }
  std::string csv_text = text_;
  std::replace(csv_text.begin(), csv_text.end(), '\t', ',');
  const std::string csv = dir_.write("in.csv", csv_text);
  r = run("convert '" + csv + "' '" + out + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(csv + ": looks comma-separated (CSV)"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("is not 0 or 1"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
}

// A TSV cut in the middle of its last line: reported as a bad line, an error with --strict.
TEST_F(CliTest, ConvertReportsACutLastLine) {
  const std::string cut = dir_.write("cut.tsv", text_.substr(0, text_.size() - 150));
  const std::string out = dir_.file("cut.cache");
  RunResult r = run("convert '" + cut + "' '" + out + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(cut + ": 399 rows from 401 lines, 2 bad lines skipped"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(cut + ":401: last line has no newline and is incomplete ("),
            std::string::npos)
      << r.output;
  const std::string complete = dir_.write("complete.tsv", text_.substr(0, text_.size() - 1));
  r = run("convert '" + complete + "' '" + out + "' --strict");
  EXPECT_EQ(r.exit_code, 2);  // line 101 is bad, the complete last row is not reported
  EXPECT_EQ(r.output.find("last line"), std::string::npos) << r.output;
}

// SIGTERM while convert reads a slow FIFO (its temporary exists) or waits for a FIFO's writer
// (before any temporary): the process dies of the signal and leaves no temporary behind.
TEST_F(CliTest, ConvertStoppedBySigtermLeavesNoTemporary) {
  const std::string slow = dir_.file("slow.tsv"), idle = dir_.file("idle.tsv");
  ASSERT_EQ(::mkfifo(slow.c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo(idle.c_str(), 0600), 0);
  const std::string script = fmt::format(
      "cd '{0}' || exit 1; ( head -n 200 in.tsv; exec sleep 30 ) > slow.tsv & writer=$!; "
      "'{1}' convert slow.tsv slow.bin & pid=$!; "
      "for i in $(seq 200); do ls slow.bin.tmp.* >/dev/null 2>&1 && break; sleep 0.05; done; "
      "echo \"temporaries while reading: $(ls slow.bin.tmp.* 2>/dev/null | wc -l)\"; "
      "kill -TERM $pid; wait $pid; echo \"status: $?\"; kill $writer; "
      "'{1}' convert idle.tsv idle.bin & pid=$!; sleep 0.5; kill -TERM $pid; wait $pid; "
      "echo \"idle status: $?\"; echo \"left: $(ls | tr '\\n' ' ')\"",
      dir_.path().string(), test::shadowsync_exe());
  const std::string script_path = dir_.write("stop.sh", script);
  const RunResult r = test::run_shell_command("timeout 60 sh '" + script_path + "' 2>&1");
  EXPECT_NE(r.output.find("temporaries while reading: 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("status: 143"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("idle status: 143"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("left: idle.tsv in.tsv slow.tsv stop.sh \n"), std::string::npos) << r.output;
}

// A stream cut inside its last row's last id (head -c): the cut row is a bad line and the
// summary warns that the input ends in the middle of a row; --strict refuses it.
TEST_F(CliTest, ConvertWarnsAboutAStreamCutInsideARow) {
  test::RawLine last = test::pattern_line(160);
  last.sparse[25] = 0x12345678u;
  const std::string last_line = test::format_line(last);
  const std::string in = dir_.write("cut.txt", test::pattern_lines(0, 160) + last_line.substr(0, last_line.size() - 3));
  RunResult r = run("convert - '" + dir_.file("cut.bin") + "' < '" + in + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string line = "162";  // 160 rows and the bad line after row 8
  EXPECT_NE(r.output.find("<stdin>:" + line + ": last line has no newline and is incomplete: C26 (field 40)"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find("warning: <stdin>: the input ends in the middle of a row (line " + line +
                          " has no newline and is incomplete): was it cut off?"),
            std::string::npos) << r.output;
  r = run("convert --strict '" + in + "' '" + dir_.file("cut.bin") + "'");
  EXPECT_EQ(r.exit_code, 2);
}

// A label-less file (39 fields a line, as Criteo's test.txt) fails saying the label is missing;
// the same file twice is refused naming both spellings.
TEST_F(CliTest, ConvertHintsAtAMissingLabelAndRefusesAFileTwice) {
  std::string text;
  for (uint64_t i = 0; i < 300; ++i) {
    const std::string line = test::format_line(test::pattern_line(i));
    text += line.substr(line.find('\t') + 1) + "\n";
  }
  const std::string test_txt = dir_.write("test.txt", text);
  for (const std::string strict : {"", " --strict"}) {
    const RunResult r = run("convert '" + test_txt + "' '" + dir_.file("t.bin") + "'" + strict);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.output.find(test_txt + " has 39 fields per line: Criteo's layout is a label then 13 "
                                       "numeric and 26 categorical fields; is the label column missing?"),
              std::string::npos) << r.output;
  }
  const std::string other = dir_.path().string() + "/./in.tsv";
  RunResult r = run("convert '" + tsv_ + "' '" + other + "' '" + dir_.file("twice.bin") + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("'" + tsv_ + "' and '" + other + "' are the same file"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_.file("twice.bin")));
  r = run("stats '" + tsv_ + "' '" + tsv_ + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("are the same file (given twice)"), std::string::npos) << r.output;
}

// Too little memory (ulimit -v) is an error saying what needed it, not "internal error:
// std::bad_alloc". Not under AddressSanitizer, whose shadow memory needs terabytes of addresses.
TEST_F(CliTest, ConvertSaysWhatNeededTheMemory) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "address sanitizer: ulimit -v cannot be used";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  GTEST_SKIP() << "address sanitizer: ulimit -v cannot be used";
#endif
#endif
  for (const int kib : {100000}) {
    const RunResult r = test::run_shell_command(fmt::format(
        "ulimit -v {} && '{}' convert '{}' '{}' 2>&1", kib, test::shadowsync_exe(), tsv_, dir_.file("m.bin")));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(r.output.find("internal error"), std::string::npos) << r.output;
    const bool says_what = r.output.find("cannot allocate 64 MiB for the parse buffers of '" + tsv_ + "'") != std::string::npos ||
                           r.output.find("convert: out of memory while converting into") != std::string::npos;
    EXPECT_TRUE(says_what) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir_.file("m.bin")));
  }
}

// OUT naming IN through another name (a hard link) is refused before anything is written.
TEST_F(CliTest, ConvertRefusesOutputOverInput) {
  const std::string link = dir_.file("link.tsv");
  std::filesystem::create_hard_link(tsv_, link);
  const RunResult r = run("convert '" + tsv_ + "' '" + link + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("OUT '" + link + "' is the same file as IN '" + tsv_ +
                          "'; writing it would destroy that input"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(read_file(tsv_), text_);
}

// Every usage error exits 2 (CLI11's parse errors too); --help and --version exit 0.
TEST_F(CliTest, UsageErrorsExitTwo) {
  for (const std::string& args : {std::string("stats"), std::string("stats --bogus x"),
                                  std::string("convert a"), std::string("nosuchcommand"),
                                  std::string(""), "stats '" + tsv_ + "' --rows-per-table abc",
                                  "stats '" + tsv_ + "' extra-argument"}) {
    const RunResult r = run(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_FALSE(r.output.empty()) << args;
  }
  RunResult r = run("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("convert"), std::string::npos) << r.output;
  r = run("stats --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--rows-per-table"), std::string::npos) << r.output;
  r = run("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("shadowsync 0.1.0"), std::string::npos) << r.output;
}

// Several files and standard input across commands: stats sums them, train takes several caches
// (and a gzip eval file), predict reads a gzip stream with a header line from standard input.
TEST_F(CliTest, ManyFilesAndStdinAcrossCommands) {
  std::string first, second;
  for (uint64_t i = 0; i < 300; ++i) first += test::format_line(test::pattern_line(i)) + "\n";
  for (uint64_t i = 300; i < 500; ++i) second += test::format_line(test::pattern_line(i)) + "\n";
  const std::string a = dir_.write("a.tsv", first), b = dir_.write("b.tsv", second);
  const std::string header_b = dir_.write("hb.tsv", "label\tI1\tI2\n" + second);
  const std::string b_gz = dir_.file("b.gz");
  ASSERT_EQ(std::system(fmt::format("gzip -c '{}' > '{}'", b, b_gz).c_str()), 0);
  RunResult r = run("stats '" + a + "' '" + b_gz + "' --json", false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json stats = nlohmann::json::parse(r.output);
  EXPECT_EQ(stats["rows"], 500);
  EXPECT_EQ(stats["file"], a + " + " + b_gz);
  const std::string a_bin = dir_.file("a.bin"), b_bin = dir_.file("b.bin"), ckpt = dir_.file("m.ckpt");
  ASSERT_EQ(run("convert '" + a + "' '" + a_bin + "' --rows-per-table 64").exit_code, 0);
  ASSERT_EQ(run("convert '" + b + "' '" + b_bin + "' --rows-per-table 64").exit_code, 0);
  r = run("train --data '" + a_bin + "' '" + b_bin + "' --eval-data '" + b_gz +
          "' --model tiny --groups 1 --threads-per-group 1 --batch 16 --quiet --topology 'package:1 core:1 pu:1' "
          "--checkpoint '" + ckpt + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("eval (200 examples)"), std::string::npos) << r.output;
  r = test::run_shell_command(fmt::format("gzip -c '{}' | '{}' predict --data - --checkpoint '{}' --out -",
                                          header_b, test::shadowsync_exe(), ckpt));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 200) << r.output.substr(0, 200);
  const RunResult from_file = run("predict --data '" + b + "' --checkpoint '" + ckpt + "'", false);
  EXPECT_EQ(r.output, from_file.output);
}

// Several caches train as their concatenation would, without joining them: a deterministic run on
// a.bin b.bin (batches and the held-out tail crossing from a into b) predicts exactly what the run
// on one cache of the same rows does, and eval of the two files equals eval of the one.
TEST_F(CliTest, SeveralCachesTrainLikeOneCacheOfTheirRows) {
  std::string first, second;
  for (uint64_t i = 0; i < 301; ++i) first += test::format_line(test::pattern_line(i)) + "\n";
  for (uint64_t i = 301; i < 500; ++i) second += test::format_line(test::pattern_line(i)) + "\n";
  const std::string a = dir_.write("a.tsv", first), b = dir_.write("b.tsv", second);
  const std::string ab = dir_.write("ab.tsv", first + second);
  const std::string a_bin = dir_.file("a.bin"), b_bin = dir_.file("b.bin"), ab_bin = dir_.file("ab.bin");
  for (const auto& [in, out] : {std::pair{a, a_bin}, {b, b_bin}, {ab, ab_bin}}) {
    ASSERT_EQ(run("convert '" + in + "' '" + out + "' --rows-per-table 64").exit_code, 0);
  }
  const std::string options =
      " --model tiny --sync none --groups 1 --threads-per-group 1 --batch 16 --epochs 2 --deterministic --eval-fraction 0.4"
      " --topology 'package:1 core:1 pu:1' --checkpoint ";
  const std::string parts_ckpt = dir_.file("parts.ckpt"), one_ckpt = dir_.file("one.ckpt");
  RunResult r = run("train --data '" + a_bin + "' '" + b_bin + "'" + options + "'" + parts_ckpt + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("on 300 rows (200 held out)"), std::string::npos) << r.output;
  r = run("train --data '" + ab_bin + "'" + options + "'" + one_ckpt + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const RunResult from_parts = run("predict --data '" + ab_bin + "' --checkpoint '" + parts_ckpt + "'", false);
  const RunResult from_one = run("predict --data '" + ab_bin + "' --checkpoint '" + one_ckpt + "'", false);
  ASSERT_EQ(from_parts.exit_code, 0) << from_parts.output;
  EXPECT_EQ(std::count(from_parts.output.begin(), from_parts.output.end(), '\n'), 500);
  EXPECT_EQ(from_parts.output, from_one.output);
  const RunResult eval_parts = run("eval --json --data '" + a_bin + "' '" + b_bin + "' --checkpoint '" + one_ckpt + "'", false);
  const RunResult eval_one = run("eval --json --data '" + ab_bin + "' --checkpoint '" + one_ckpt + "'", false);
  ASSERT_EQ(eval_parts.exit_code, 0) << eval_parts.output;
  const nlohmann::json m = nlohmann::json::parse(eval_parts.output);
  EXPECT_EQ(m["examples"], 500);
  nlohmann::json m_one = nlohmann::json::parse(eval_one.output);
  m_one.erase("teacher");  // generated-data teacher: only for one file
  EXPECT_EQ(m.dump(), m_one.dump());
}

// convert --table-rows-from sizes each table from `stats --json` of the same data: the cache's
// tables are the sizes tables_sized_for gives for the counted rows; bad files are named.
TEST_F(CliTest, ConvertSizesTablesFromStats) {
  const std::string stats_file = dir_.file("stats.json");
  RunResult r = run("stats --json --rows-per-table 4096 '" + tsv_ + "'", false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  dir_.write("stats.json", r.output);
  const nlohmann::json stats = nlohmann::json::parse(r.output);
  std::array<uint64_t, kNumSparse> used{};
  for (int t = 0; t < kNumSparse; ++t) used[t] = stats["sparse"][t]["distinct_rows"].get<uint64_t>();
  const HashingConfig expected = tables_sized_for(used, HashingConfig::uniform(4096));
  const std::string sized = dir_.file("sized.bin");
  r = run("convert --table-rows-from '" + stats_file + "' '" + tsv_ + "' '" + sized + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json cache = nlohmann::json::parse(run("stats --json '" + sized + "'", false).output);
  uint64_t total = 0;
  for (int t = 0; t < kNumSparse; ++t) {
    EXPECT_EQ(cache["hashing"]["rows_per_table"][t].get<uint32_t>(), expected.rows[t]) << t;
    EXPECT_LT(expected.rows[t], 4096u) << t;  // 400 rows use far fewer than 4096 rows a table
    EXPECT_GE(expected.rows[t], 2 * used[t] + 1) << t;
    total += expected.rows[t];
    EXPECT_EQ(cache["sparse"][t]["missing_share"], stats["sparse"][t]["missing_share"]) << t;
  }
  const bool uniform = std::all_of(expected.rows.begin(), expected.rows.end(),
                                   [&](uint32_t rows) { return rows == expected.rows[0]; });
  EXPECT_NE(r.output.find(uniform ? fmt::format("(rows per table {}, salt 0)", expected.rows[0])
                                  : fmt::format("(rows per table {}: {} in all, salt 0)",
                                                fmt::join(expected.rows, " "), total)),
            std::string::npos) << r.output;

  r = run("convert --table-rows-from '" + stats_file + "' --rows-per-table 64 '" + tsv_ + "' '" + sized + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--rows-per-table excludes --table-rows-from"), std::string::npos) << r.output;
  nlohmann::json broken = stats;
  broken["sparse"][3]["distinct_rows"] = -1;
  dir_.write("broken.json", broken.dump());
  r = run("convert --table-rows-from '" + dir_.file("broken.json") + "' '" + tsv_ + "' '" + sized + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--table-rows-from '" + dir_.file("broken.json") +
                          "': field 'sparse[3].distinct_rows' must be a non-negative integer"),
            std::string::npos) << r.output;
  dir_.write("text.json", "not json");
  r = run("convert --table-rows-from '" + dir_.file("text.json") + "' '" + tsv_ + "' '" + sized + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--table-rows-from '" + dir_.file("text.json") + "': not JSON (the data statistics are a JSON "
                          "object) (it takes what `shadowsync stats --json` writes)"),
            std::string::npos) << r.output;
  r = run("convert --table-rows-from '" + stats_file + "' '" + tsv_ + "' '" + stats_file + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--table-rows-from"), std::string::npos) << r.output;
}

// --delimiter ',': a CSV converts to the same cache as its TSV, and stats of both agree; several
// inputs are named as they are read; bad delimiters are usage errors naming the option.
TEST_F(CliTest, DelimiterReadsCsvLikeItsTsvAndNamesEachFile) {
  std::string csv_text = text_;
  std::replace(csv_text.begin(), csv_text.end(), '\t', ',');
  const std::string csv = dir_.write("in.csv", csv_text);
  const std::string from_tsv = dir_.file("tsv.cache"), from_csv = dir_.file("csv.cache");
  RunResult r = run("convert '" + tsv_ + "' '" + from_tsv + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run("convert --delimiter , '" + csv + "' '" + from_csv + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(csv + ": 400 rows from 401 lines, 1 bad lines skipped"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find(csv + ":101: I3 (field 4): 'x' is not an integer"), std::string::npos);
  const auto bytes = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(bytes(from_csv), bytes(from_tsv));
  const RunResult stats_tsv = run("stats --json '" + tsv_ + "'", false);
  const RunResult stats_csv = run("stats --json --delimiter , '" + csv + "'", false);
  ASSERT_EQ(stats_csv.exit_code, 0) << stats_csv.output;
  auto a = nlohmann::json::parse(stats_tsv.output), b = nlohmann::json::parse(stats_csv.output);
  a.erase("file");
  b.erase("file");
  EXPECT_EQ(a.dump(), b.dump());

  // Several inputs: each is named as it starts, with its number.
  r = run("convert '" + tsv_ + "' --delimiter , '" + csv + "' '" + dir_.file("two.cache") + "'");
  EXPECT_EQ(r.exit_code, 2) << r.output;  // the TSV read with ',' is refused, naming the fix
  EXPECT_NE(r.output.find(tsv_ + ": looks tab-separated: line 1 has 39 tabs and no ',' "
                                 "(--delimiter); read it with the default delimiter, a tab"),
            std::string::npos) << r.output;
  const std::string copy = dir_.write("copy.tsv", text_);
  r = run("convert '" + tsv_ + "' '" + copy + "' '" + dir_.file("two.cache") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("reading 1/2: " + tsv_ + "\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("reading 2/2: " + copy + "\n"), std::string::npos) << r.output;
  r = run("stats '" + tsv_ + "' '" + copy + "'");
  EXPECT_NE(r.output.find("reading 2/2: " + copy + "\n"), std::string::npos) << r.output;

  // The CSV read as TSV says how to read it.
  r = run("stats '" + csv + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("line 1 has 39 commas and no tab; read it with --delimiter ','"),
            std::string::npos) << r.output;
  for (const char* bad : {"ab", "-", "7", "x"}) {
    r = run(std::string("convert --delimiter ") + bad + " '" + csv + "' '" + from_csv + "'");
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.output.find("--delimiter"), std::string::npos) << r.output;
  }
  r = run("convert --delimiter ab '" + csv + "' '" + from_csv + "'");
  EXPECT_NE(r.output.find("--delimiter expects one byte ('tab' or '\\t' for a tab, ',' for CSV), got 'ab'"),
            std::string::npos) << r.output;
  r = run("stats --delimiter - '" + csv + "'");
  EXPECT_NE(r.output.find("'-' cannot separate Criteo fields"), std::string::npos) << r.output;
  r = run("stats --delimiter tab '" + tsv_ + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// The columns stated by options: errors spelled as the options, a stated layout stored in the
// cache, and a cache read with no options (or with options that must match it).
TEST_F(CliTest, ConvertStatesColumnsByOptions) {
  const std::string csv = dir_.write("d.csv", "id,y,a,b\n1,0,x,p\n2,1,y,q\n3,0,x,q\n");
  const std::string out = dir_.file("csv.cache");
  const std::string convert = "convert '" + csv + "' '" + out + "' --delimiter , --header --label y ";
  RunResult r = run(convert + "--categorical a,b");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("shadowsync: error: " + csv +
                          ": --ignore: column 0 'id' is not named by label, numeric, categorical, multi_hot or "
                          "ignore (every column must be named once; ignore skips it)"),
            std::string::npos)
      << r.output;
  r = run(convert + "--categorical a,b --ignore id --numeric price");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(csv + ": --numeric: 'price' is not a column of the header (id, y, a, b)"), std::string::npos)
      << r.output;
  r = run(convert + "--categorical a --ignore id --multi-hot b");
  EXPECT_NE(r.output.find("--multi-hot: 'b' is not NAME:SEP[:MAX_LENGTH[:sum|mean]]"), std::string::npos) << r.output;
  r = run(convert + "--categorical a,b --ignore id,y");
  EXPECT_NE(r.output.find("--ignore: 'y' is already named by --label"), std::string::npos) << r.output;
  r = run("convert '" + csv + "' '" + out + "' --delimiter , --categorical a,b");
  EXPECT_NE(r.output.find("--label: required when the columns are stated"), std::string::npos) << r.output;
  const std::string schema = dir_.write("s.json", R"({"columns": [{"name": "y", "kind": "label"}]})");
  r = run("convert '" + csv + "' '" + out + "' --schema '" + schema + "' --label y");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--schema: a schema file states every column and rule; --label cannot be given with it"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
  // The whole statement.
  r = run(convert + "--categorical a,b --ignore id");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::optional<FeatureSchema> stored = read_cache_schema(out);
  ASSERT_TRUE(stored.has_value());
  std::vector<std::string> names;
  for (const SchemaColumn& c : stored->columns) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"id", "y", "a", "b"}));
  EXPECT_EQ(MappedCache::open(out, *read_cache_hashing(out)).rows(), 3u);
}

TEST_F(CliTest, StatsNameTheColumnsOfAStatedSchema) {
  // Two numeric columns (one decimal), a categorical and a multi-hot one: stats lists exactly
  // these, by name, for the text and for its cache (it listed Criteo's 13 + 26 before, reading
  // past the statistics of 2 numeric and 2 tables).
  const std::string csv = dir_.write("s.csv", "y,n,p,a,tags\n1,3,0.5,x,u|v\n0,,1.5,y,\n0,7,2.5,x,v|v|w\n");
  const std::string columns = " --delimiter , --header --label y --numeric n,p:identity --categorical a --multi-hot 'tags:|'";
  const std::string cache = dir_.file("s.cache");
  ASSERT_EQ(run("convert '" + csv + "' '" + cache + "'" + columns).exit_code, 0);
  for (const std::string& source : {"'" + csv + "'" + columns, "'" + cache + "'"}) {
    const RunResult r = run("stats " + source + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const nlohmann::json j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
    ASSERT_EQ(j["dense"].size(), 2u) << r.output;
    EXPECT_EQ(j["dense"][0]["name"], "n");
    EXPECT_DOUBLE_EQ(j["dense"][0]["missing_share"].get<double>(), 1.0 / 3);
    EXPECT_EQ(j["dense"][1]["name"], "p");
    EXPECT_DOUBLE_EQ(j["dense"][1]["max"].get<double>(), 2.5);
    ASSERT_EQ(j["sparse"].size(), 2u) << r.output;
    EXPECT_EQ(j["sparse"][0]["name"], "a");
    EXPECT_EQ(j["sparse"][0]["distinct_rows"], 2);
    EXPECT_EQ(j["sparse"][1]["name"], "tags");
    EXPECT_EQ(j["sparse"][1]["distinct_rows"], 3);
    EXPECT_DOUBLE_EQ(j["sparse"][1]["missing_share"].get<double>(), 1.0 / 3);
    const RunResult text = run("stats " + source);
    EXPECT_NE(text.output.find("\ntags "), std::string::npos) << text.output;
    EXPECT_EQ(text.output.find("I1 "), std::string::npos) << text.output;
  }
}

TEST_F(CliTest, CachesCarryTheStatedSchema) {
  // Criteo's layout stated by position: the same fields, named "0".."39", stored in the cache.
  std::string numeric, categorical;
  for (int j = 1; j <= 13; ++j) numeric += fmt::format("{}{}", j > 1 ? "," : "", j);
  for (int t = 14; t <= 39; ++t) categorical += fmt::format("{}{}", t > 14 ? "," : "", t);
  const std::string out = dir_.file("positions.cache");
  const std::string stated = "--label 0 --numeric " + numeric + " --categorical " + categorical + " --hex-ids";
  RunResult r = run("convert '" + tsv_ + "' '" + out + "' --rows-per-table 100 " + stated);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("wrote 400 rows to " + out + " (13 numeric, 26 categorical, 0 multi-hot columns; rows per "
                          "table 100, salt 0)"),
            std::string::npos)
      << r.output;
  const std::optional<FeatureSchema> stored = read_cache_schema(out);
  ASSERT_TRUE(stored.has_value());
  EXPECT_FALSE(stored->is_criteo());
  EXPECT_EQ(stored->table_name(0), "14");
  EXPECT_TRUE(stored->hex_ids);
  // The rows are Criteo's rows.
  ParseOptions o;
  o.hashing = HashingConfig::uniform(100);
  const DataBlock parsed = parse_criteo_text(text_, "x", o);
  const MappedCache mapped = MappedCache::open(out, o.hashing);
  ASSERT_EQ(mapped.rows(), 400u);
  EXPECT_EQ(mapped.schema(), *stored);
  EXPECT_EQ(std::memcmp(mapped.view().sparse, parsed.sparse(), 400 * kNumSparse * 4), 0);
  // stats reads the cache with no options, or with options that state the same schema.
  r = run("stats '" + out + "' --json", false);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run("stats '" + out + "' --json " + stated, false);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // Options that differ: the first difference.
  r = run("stats '" + out + "' --label 0 --numeric " + numeric + ",14 --categorical " + categorical.substr(3) +
          " --hex-ids");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--schema: " + out + " has its own schema, which the stated one does not match: column 14: "
                          "14 (categorical) vs 14 (numeric)"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace shadowsync
