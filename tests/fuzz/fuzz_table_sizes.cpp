// Fuzz target: embedding table sizes from the statistics JSON (data/table_sizes.hpp), from text
// and from a file. Bad input must be refused with shadowsync::Error (a nlohmann exception or any
// other escaping is a finding); accepted input must give the sizes tables_sized_for gives for
// its counts: every table a valid size, no larger than the size the rows were counted with and
// at least 2 x its distinct rows + 1 unless it kept that size.
#include <array>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_util.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/table_sizes.hpp"

using namespace shadowsync;

namespace {

void check_accepted(const std::string& text, const HashingConfig& sized) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) fuzz::fail("text that is not JSON was accepted");
  for (int t = 0; t < kNumSparse; ++t) {
    const uint64_t measured = j["hashing"]["rows_per_table"][t].get<uint64_t>();
    const uint64_t distinct = j["sparse"][t]["distinct_rows"].get<uint64_t>();
    const uint64_t rows = sized.rows[t];
    if (!rows_per_table_problem(rows, std::to_string(rows)).empty()) fuzz::fail("a table size out of range");
    if (rows > measured) fuzz::fail("a table larger than the size its rows were counted with");
    if (rows != measured && rows < 2 * distinct + 1) fuzz::fail("a table smaller than 2 x its distinct rows + 1");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::ScratchFile scratch(fuzz::scratch_path("stats", ".json"));
  const std::string text(reinterpret_cast<const char*>(data), size);
  bool accepted = false;
  HashingConfig from_text;
  try {
    from_text = tables_sized_from_stats_json(text, "fuzz.json");
    accepted = true;
    check_accepted(text, from_text);
  } catch (const Error&) {
  }
  fuzz::write_file(scratch.path(), data, size);
  try {
    const HashingConfig from_file = tables_sized_from_stats_file(scratch.path());
    if (!accepted) fuzz::fail("the file was accepted but the same text was not");
    if (!(from_file == from_text)) fuzz::fail("the file and its text give different sizes");
  } catch (const Error&) {
    if (accepted) fuzz::fail("the text was accepted but the same file was not");
  }
  return 0;
}
