// Runs a libFuzzer target over its seed corpus without libFuzzer, so that every
// fuzz target is exercised by the ordinary (gcc, ASan+UBSan) test build.
// Usage: <fuzz-target> FILE_OR_DIR...   Each file is fed once to
// LLVMFuzzerTestOneInput. With clang and -Dfuzzers=true the same sources are
// linked against libFuzzer instead (see tests/fuzz/meson.build).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {
int run_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  int n = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file()) n += run_file(e.path());
    } else {
      n += run_file(p);
    }
  }
  std::printf("ran %d corpus inputs\n", n);
  return n > 0 ? 0 : 1;
}
