#pragma once
// Quality measures of one completion that need no model: the diversity of its tokens
// (unigram entropy, distinct-2; low values expose repetitive, degenerate text that a
// low perplexity hides) and how much of a known reference continuation it reproduces.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dlm {

// Entropy (nats) of the token frequencies of `ids`: -sum_v p_v ln p_v with
// p_v = count(v) / size. 0 for fewer than two tokens or a single repeated token.
double token_entropy(const std::vector<std::int64_t>& ids);

// Distinct bigrams of `ids` over all its bigrams; nullopt for fewer than two tokens.
std::optional<double> distinct_2(const std::vector<std::int64_t>& ids);

// Words of `text` for matching: split on whitespace, lower-cased (ASCII), punctuation
// stripped from both ends; words that are only punctuation are dropped.
std::vector<std::string> match_words(std::string_view text);

// Whether the completion's first 5 words equal the reference's (fewer when the
// reference is shorter; false for an empty reference).
bool first_words_match(std::string_view completion, std::string_view reference,
                       std::size_t words = 5);

// Share of the reference's words that the completion has at the same word index
// (0 for an empty reference).
double in_place_word_share(std::string_view completion, std::string_view reference);

}  // namespace dlm
