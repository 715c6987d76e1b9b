// Replays a fuzz target's corpus without libFuzzer (Envoy test/fuzz/README.md): every
// file under the corpus directory (compiled in as MW_FUZZ_CORPUS, or given as
// arguments) is passed once to LLVMFuzzerTestOneInput. Under the sanitizer build a
// crash, leak or UB report fails the test. Prints the count of inputs replayed.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int replayFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", p.c_str());
    return 1;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> roots;
  for (int i = 1; i < argc; ++i) {
    roots.emplace_back(argv[i]);
  }
#ifdef MW_FUZZ_CORPUS
  if (roots.empty()) {
    roots.emplace_back(MW_FUZZ_CORPUS);
  }
#endif
  int failures = 0;
  std::size_t count = 0;
  for (const auto& root : roots) {
    if (std::filesystem::is_regular_file(root)) {
      failures += replayFile(root);
      ++count;
      continue;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
      if (entry.is_regular_file()) {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      failures += replayFile(f);
      ++count;
    }
  }
  std::printf("replayed %zu inputs\n", count);
  if (count == 0) {
    std::fprintf(stderr, "empty corpus\n");
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
