#include "dlm/sampling/names.h"

#include <fmt/format.h>

#include <cctype>
#include <utility>

#include "dlm/error.h"

namespace dlm {
namespace {

template <typename Enum>
using Names = std::vector<std::pair<std::string, Enum>>;

const Names<Algorithm>& algorithm_names() {
  static const Names<Algorithm> names{
      {"confidence", Algorithm::kConfidence}, {"low_confidence", Algorithm::kConfidence},
      {"maskgit_plus", Algorithm::kConfidence}, {"margin", Algorithm::kMargin},
      {"topk_margin", Algorithm::kMargin},     {"entropy", Algorithm::kEntropy},
      {"random", Algorithm::kRandom},          {"origin", Algorithm::kOrigin},
      {"ancestral", Algorithm::kAncestral},    {"ddpm_cache", Algorithm::kAncestral}};
  return names;
}

// llama.cpp's --diffusion-algorithm numbers (examples/diffusion/diffusion-cli.cpp:
// ORIGIN = 0, ENTROPY_BASED = 1, MARGIN_BASED = 2, RANDOM = 3, CONFIDENCE_BASED = 4).
const Names<Algorithm>& llama_cpp_algorithms() {
  static const Names<Algorithm> numbers{{"0", Algorithm::kOrigin},  {"1", Algorithm::kEntropy},
                                        {"2", Algorithm::kMargin},  {"3", Algorithm::kRandom},
                                        {"4", Algorithm::kConfidence}};
  return numbers;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Names match in any case (`Entropy`, `DUAL`); `more` is the error's tail after the names.
template <typename Enum>
Enum parse(const Names<Enum>& names, const std::string& name, const char* option,
           const std::string& more = "") {
  const std::string key = lower(name);
  std::vector<std::string> valid;
  for (const auto& [n, value] : names) {
    if (n == key) return value;
    valid.push_back(n);
  }
  throw UsageError(fmt::format("{} '{}' is not known; valid: {}{}", option, name,
                               fmt::join(valid, ", "), more));
}

template <typename Enum>
std::string name_of(const Names<Enum>& names, Enum value) {
  for (const auto& [n, v] : names) {
    if (v == value) return n;
  }
  return "?";
}

const Names<Style> kStyles{{"llada", Style::kLlada}, {"dream", Style::kDream}};
const Names<Schedule> kSchedules{{"block", Schedule::kBlock}, {"timestep", Schedule::kTimestep}};
const Names<EosPolicy> kEos{{"none", EosPolicy::kNone}, {"suppress", EosPolicy::kSuppress},
                            {"defer", EosPolicy::kDefer}, {"stop", EosPolicy::kStop}};
const Names<CacheMode> kCacheModes{{"auto", CacheMode::kAuto}, {"none", CacheMode::kNone},
                                   {"prefix", CacheMode::kPrefix}, {"dual", CacheMode::kDual},
                                   {"elastic", CacheMode::kElastic}};

}  // namespace

Algorithm parse_algorithm(const std::string& name) {
  for (const auto& [number, value] : llama_cpp_algorithms()) {
    if (name == number) return value;
  }
  return parse(algorithm_names(), name, "--algorithm", " (or llama.cpp's numbers 0-4)");
}
Style parse_style(const std::string& name) { return parse(kStyles, name, "--style"); }
Schedule parse_schedule(const std::string& name) { return parse(kSchedules, name, "--schedule"); }
EosPolicy parse_eos_policy(const std::string& name) { return parse(kEos, name, "--eos"); }
CacheMode parse_cache_mode(const std::string& name) { return parse(kCacheModes, name, "--cache"); }

std::string to_string(Algorithm a) { return name_of(algorithm_names(), a); }
std::string to_string(Style s) { return name_of(kStyles, s); }
std::string to_string(Schedule s) { return name_of(kSchedules, s); }
std::string to_string(EosPolicy e) { return name_of(kEos, e); }
std::string to_string(CacheMode c) { return name_of(kCacheModes, c); }

}  // namespace dlm
