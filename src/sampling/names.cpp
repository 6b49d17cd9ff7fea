#include "dlm/sampling/names.h"

#include <fmt/format.h>

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

template <typename Enum>
Enum parse(const Names<Enum>& names, const std::string& name, const char* option) {
  std::vector<std::string> valid;
  for (const auto& [n, value] : names) {
    if (n == name) return value;
    valid.push_back(n);
  }
  throw UsageError(fmt::format("{} '{}' is not known; valid: {}", option, name,
                               fmt::join(valid, ", ")));
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
                                   {"prefix", CacheMode::kPrefix}, {"dual", CacheMode::kDual}};

}  // namespace

Algorithm parse_algorithm(const std::string& name) {
  return parse(algorithm_names(), name, "--algorithm");
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
