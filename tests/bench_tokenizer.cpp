// dlm's hf tokenizer on files, mirroring tests/oracle/hf_oracle.js (no torch: links only
// dlm_tokenizer). Used by scripts/bench/bench_tokenizer.sh and to look at differences.
//   dlm_bench_tokenizer ids TOKENIZER_JSON STRINGS.jsonl OUT.jsonl
//   dlm_bench_tokenizer bench TOKENIZER_JSON TEXT_FILE [REPEATS] [lines]
//     prints "bytes tokens seconds" of the best repeat: the file as one string, or each
//     non-empty line apart
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "dlm/error.h"
#include "tokenizer/hf_tokenizer.h"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw dlm::UsageError("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if ((mode != "ids" || argc != 5) && (mode != "bench" || argc < 4)) {
    std::cerr << "usage: dlm_bench_tokenizer ids TOKENIZER_JSON STRINGS.jsonl OUT.jsonl | bench "
                 "TOKENIZER_JSON TEXT [REPEATS]\n";
    return 2;
  }
  try {
    const auto tokenizer = dlm::make_hf_tokenizer(read_file(argv[2]), argv[2]);
    if (mode == "ids") {
      std::ifstream in(argv[3]);
      std::ofstream out(argv[4]);
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty()) continue;
        out << nlohmann::json(tokenizer->encode(nlohmann::json::parse(line).get<std::string>())).dump() << "\n";
      }
      return 0;
    }
    const std::string text = read_file(argv[3]);
    const int repeats = argc > 4 ? std::stoi(argv[4]) : 3;
    const bool lines = argc > 5 && std::string(argv[5]) == "lines";
    std::vector<std::string_view> parts;
    for (std::size_t at = 0; at < text.size();) {
      const auto end = std::min(text.find('\n', at), text.size());
      if (end > at) parts.push_back(std::string_view(text).substr(at, end - at));
      at = end + 1;
    }
    double best = 1e30;
    std::size_t tokens = 0;
    for (int r = 0; r < repeats; ++r) {
      // A fresh tokenizer each repeat would time the load; the word cache is part of the
      // encoder, as the oracle's is, so repeats after the first run warm (both sides).
      const auto start = std::chrono::steady_clock::now();
      if (lines) {
        tokens = 0;
        for (const auto part : parts) tokens += tokenizer->encode(part).size();
      } else {
        tokens = tokenizer->encode(text).size();
      }
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      best = std::min(best, took.count());
    }
    std::cout << text.size() << " " << tokens << " " << best << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dlm_bench_tokenizer: " << e.what() << "\n";
    return 1;
  }
}
