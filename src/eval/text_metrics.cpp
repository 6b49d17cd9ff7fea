#include "dlm/eval/text_metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <utility>

namespace dlm {

double token_entropy(const std::vector<std::int64_t>& ids) {
  if (ids.size() < 2) return 0.0;
  std::map<std::int64_t, std::int64_t> counts;
  for (const auto id : ids) ++counts[id];
  const double n = static_cast<double>(ids.size());
  double h = 0.0;
  for (const auto& [id, count] : counts) {
    const double p = static_cast<double>(count) / n;
    h -= p * std::log(p);
  }
  return h;
}

std::optional<double> distinct_2(const std::vector<std::int64_t>& ids) {
  if (ids.size() < 2) return std::nullopt;
  std::set<std::pair<std::int64_t, std::int64_t>> seen;
  for (std::size_t i = 1; i < ids.size(); ++i) seen.emplace(ids[i - 1], ids[i]);
  return static_cast<double>(seen.size()) / static_cast<double>(ids.size() - 1);
}

std::vector<std::string> match_words(std::string_view text) {
  const auto is_word_char = [](unsigned char c) { return std::isalnum(c) || c >= 0x80; };
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t j = i;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    std::size_t a = i, b = j;
    while (a < b && !is_word_char(static_cast<unsigned char>(text[a]))) ++a;
    while (b > a && !is_word_char(static_cast<unsigned char>(text[b - 1]))) --b;
    if (a < b) {
      std::string word(text.substr(a, b - a));
      for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      words.push_back(std::move(word));
    }
    i = j;
  }
  return words;
}

bool first_words_match(std::string_view completion, std::string_view reference,
                       std::size_t words) {
  const auto ref = match_words(reference);
  const auto got = match_words(completion);
  const std::size_t k = std::min(words, ref.size());
  if (k == 0 || got.size() < k) return false;
  return std::equal(ref.begin(), ref.begin() + static_cast<std::ptrdiff_t>(k), got.begin());
}

double in_place_word_share(std::string_view completion, std::string_view reference) {
  const auto ref = match_words(reference);
  const auto got = match_words(completion);
  if (ref.empty()) return 0.0;
  std::size_t same = 0;
  for (std::size_t i = 0; i < ref.size() && i < got.size(); ++i) same += ref[i] == got[i];
  return static_cast<double>(same) / static_cast<double>(ref.size());
}

}  // namespace dlm
