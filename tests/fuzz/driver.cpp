// Standalone driver for the libFuzzer targets in tests/fuzz/*_fuzz.cpp, so `make check` runs them
// with g++ and no fuzzing runtime: every corpus file, then --runs N deterministic mutations of
// them (bit flips, byte inserts/deletes, truncation, splices). A crash or sanitizer report fails.
// With clang and -fsanitize=fuzzer (scripts/fuzz) the same targets run under libFuzzer instead.
#include <dirent.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static void add_path(const std::string& p, std::vector<std::string>& corpus) {
  if (DIR* d = opendir(p.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      add_path(p + "/" + e->d_name, corpus);
    }
    closedir(d);
    return;
  }
  std::ifstream f(p, std::ios::binary);
  if (!f) return;
  std::stringstream ss;
  ss << f.rdbuf();
  corpus.push_back(ss.str());
}

int main(int argc, char** argv) {
  long runs = 1000;
  unsigned seed = 1;
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc)
      runs = std::atol(argv[++i]);
    else if (a == "--seed" && i + 1 < argc)
      seed = static_cast<unsigned>(std::atol(argv[++i]));
    else
      add_path(a, corpus);
  }
  for (auto& c : corpus)
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(c.data()), c.size());
  if (corpus.empty()) corpus.emplace_back();
  std::mt19937 rng(seed);
  auto pick = [&](size_t n) {
    return n ? std::uniform_int_distribution<size_t>(0, n - 1)(rng) : 0;
  };
  for (long r = 0; r < runs; r++) {
    std::string s = corpus[pick(corpus.size())];
    int edits = 1 + static_cast<int>(pick(8));
    for (int e = 0; e < edits; e++) {
      switch (pick(6)) {
        case 0:
          if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << pick(8));
          break;
        case 1:
          s.insert(s.begin() + static_cast<long>(pick(s.size() + 1)), static_cast<char>(pick(256)));
          break;
        case 2:
          if (!s.empty()) s.erase(pick(s.size()), 1 + pick(16));
          break;
        case 3:
          s.resize(pick(s.size() + 1));
          break;
        case 4: {
          const std::string& o = corpus[pick(corpus.size())];
          if (!o.empty()) s.insert(pick(s.size() + 1), o.substr(pick(o.size())));
          break;
        }
        case 5:
          if (!s.empty()) s[pick(s.size())] = "-.={}\"\n:AZaz09+/"[pick(17)];
          break;
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  std::printf("%zu corpus inputs, %ld mutations: no crash\n", corpus.size(), runs);
  return 0;
}
