// main() of the fuzz-replay tests (the normal build, no libFuzzer): runs the target's
// LLVMFuzzerTestOneInput once on every file of each folder (or file) named on the command line,
// in name order, printing each file's name first so that a crash names its input. A folder that
// does not exist is skipped (a target may have no regressions yet). Exit 0 when every input ran.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::filesystem::path> inputs_of(const std::filesystem::path& arg) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(arg)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(arg)) {
      if (entry.is_regular_file() && entry.path().filename().string().front() != '.') {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
  } else if (std::filesystem::exists(arg)) {
    files.push_back(arg);
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  size_t ran = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg = argv[i];
    if (!std::filesystem::exists(arg)) {
      std::printf("%s: not there, skipped\n", argv[i]);
      continue;
    }
    for (const auto& file : inputs_of(arg)) {
      std::printf("%s\n", file.c_str());
      std::fflush(stdout);
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "%s: cannot read\n", file.c_str());
        return 1;
      }
      // An exact-size heap copy, so that a read past the end is caught under ASan.
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
      auto* data = new uint8_t[std::max<size_t>(bytes.size(), 1)];
      std::copy(bytes.begin(), bytes.end(), data);
      LLVMFuzzerTestOneInput(data, bytes.size());
      delete[] data;
      ++ran;
    }
  }
  std::printf("replayed %zu input(s)\n", ran);
  return 0;
}
