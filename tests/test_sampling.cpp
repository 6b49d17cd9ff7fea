// Unit tests of the sampling family on hand-made logits: each rule's candidate and
// score, the selection rules (threshold, factor, alg_temp), stop strings, option parsing.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "dlm/error.h"
#include "dlm/sampling/names.h"
#include "dlm/sampling/scoring.h"
#include "dlm/text/text_stream.h"
#include "test_support.h"

namespace {

// softmax of a short row, for hand computations.
std::vector<double> probs(const std::vector<float>& l) {
  double m = -INFINITY, sum = 0;
  for (const float x : l) m = std::max(m, double(x));
  std::vector<double> p;
  for (const float x : l) p.push_back(std::exp(double(x) - m));
  for (const double x : p) sum += x;
  for (auto& x : p) x /= sum;
  return p;
}

dlm::Candidate run(const std::vector<float>& l, dlm::TokenRule rule, dlm::DrawKey key = {}) {
  return dlm::propose(l.data(), static_cast<std::int64_t>(l.size()), rule, key);
}

// A tokenizer whose id i is the single byte 'a' + i.
class LetterTokenizer : public dlm::Tokenizer {
 public:
  LetterTokenizer() {
    for (int i = 0; i < 26; ++i) pieces_.emplace_back(1, static_cast<char>('a' + i));
  }
  std::vector<std::int64_t> encode(std::string_view) const override { return {}; }
  std::int64_t size() const override { return 26; }
  const std::string& piece_bytes(std::int64_t id) const override { return pieces_[id]; }
  std::string kind() const override { return "letters"; }

 private:
  std::vector<std::string> pieces_;
};

std::vector<std::int64_t> ids(const std::string& letters) {
  std::vector<std::int64_t> out;
  for (const char c : letters) out.push_back(c == '_' ? 100 : c - 'a');  // '_' = mask id 100
  return out;
}

}  // namespace

TEST_CASE("margin and entropy scores read the unperturbed softmax under llada style") {
  const std::vector<float> l{1.0f, 3.0f, 2.0f, 0.5f};
  const auto p = probs(l);
  dlm::TokenRule rule;
  rule.algorithm = dlm::Algorithm::kMargin;
  auto c = run(l, rule);
  CHECK(c.token == 1);
  CHECK(c.score == Approx(p[1] - p[2]).epsilon(1e-12));
  rule.algorithm = dlm::Algorithm::kEntropy;
  c = run(l, rule);
  double neg_entropy = 0;
  for (const double x : p) neg_entropy += x * std::log(x + 1e-10);
  CHECK(c.score == Approx(neg_entropy).epsilon(1e-12));
  CHECK(c.score < 0);
}

TEST_CASE("the random score is the position's own uniform draw") {
  const std::vector<float> l{0.0f, 1.0f};
  dlm::TokenRule rule;
  rule.algorithm = dlm::Algorithm::kRandom;
  const dlm::DrawKey key{7, 3, 2};
  const double expected = dlm::RngKey(7, 3, 2, dlm::RngStream::kPositionScore).uniform(0);
  CHECK(run(l, rule, key).score == expected);
  CHECK(run(l, rule, dlm::DrawKey{7, 4, 2}).score != expected);
}

TEST_CASE("dream style scores the temperature-scaled filtered distribution") {
  const std::vector<float> l{2.0f, 1.0f, 0.0f, -1.0f};
  dlm::TokenRule rule;
  rule.style = dlm::Style::kDream;
  rule.temperature = 0.0;
  rule.top_k = 2;
  auto c = run(l, rule);
  CHECK(c.token == 0);
  const auto q = probs({2.0f, 1.0f});  // top-2 kept, the rest removed
  CHECK(c.score == Approx(q[0]).epsilon(1e-12));
  rule.top_k = 0;
  rule.temperature = 0.5;  // sampled: whatever is drawn, the score is q at it
  const dlm::DrawKey key{1, 0, 0};
  c = run(l, rule, key);
  const auto scaled = probs({4.0f, 2.0f, 0.0f, -2.0f});
  CHECK(c.score == Approx(scaled[c.token]).epsilon(1e-12));
}

TEST_CASE("top-k and top-p never emit excluded tokens, in either style") {
  std::vector<float> l(50);
  for (int i = 0; i < 50; ++i) l[i] = static_cast<float>(50 - i) * 0.05f;  // id 0 most likely
  for (const auto style : {dlm::Style::kLlada, dlm::Style::kDream}) {
    dlm::TokenRule rule;
    rule.style = style;
    rule.temperature = 1.5;
    rule.top_k = 5;
    for (std::uint64_t pos = 0; pos < 400; ++pos) {
      CHECK(run(l, rule, dlm::DrawKey{3, pos, 0}).token < 5);
    }
    rule.top_k = 0;
    rule.top_p = 0.3;
    // The nucleus: the smallest prefix whose probability exceeds 0.3 (T-scaled).
    std::vector<float> scaled(l);
    for (auto& x : scaled) x = static_cast<float>(x / 1.5);
    const auto p = probs(scaled);
    double cum = 0;
    std::int64_t nucleus = 0;
    while (cum <= 0.3) cum += p[nucleus++];
    for (std::uint64_t pos = 0; pos < 400; ++pos) {
      CHECK(run(l, rule, dlm::DrawKey{3, pos, 0}).token < nucleus);
    }
  }
}

TEST_CASE("a dream-style draw from a small distribution matches it (chi-square)") {
  const std::vector<float> l{0.0f, 1.0f, 2.0f, 0.5f};
  const auto p = probs(l);
  dlm::TokenRule rule;
  rule.style = dlm::Style::kDream;
  rule.temperature = 1.0;
  const int n = 20000;
  std::vector<int> counts(4, 0);
  for (int i = 0; i < n; ++i) ++counts[run(l, rule, dlm::DrawKey{9, std::uint64_t(i), 5}).token];
  double chi2 = 0;
  for (int v = 0; v < 4; ++v) chi2 += std::pow(counts[v] - n * p[v], 2) / (n * p[v]);
  CHECK(chi2 < 16.27);  // 3 degrees of freedom, p = 0.001
}

TEST_CASE("a llada-style draw at T=1 matches the softmax too (chi-square)") {
  const std::vector<float> l{0.0f, 1.0f, 2.0f, 0.5f};
  const auto p = probs(l);
  dlm::TokenRule rule;
  rule.temperature = 1.0;
  const int n = 20000;
  std::vector<int> counts(4, 0);
  for (int i = 0; i < n; ++i) ++counts[run(l, rule, dlm::DrawKey{4, std::uint64_t(i), 1}).token];
  double chi2 = 0;
  for (int v = 0; v < 4; ++v) chi2 += std::pow(counts[v] - n * p[v], 2) / (n * p[v]);
  CHECK(chi2 < 16.27);
}

TEST_CASE("eos suppress never proposes eos; defer scores it -inf") {
  const std::vector<float> l{0.0f, 5.0f, 1.0f};  // id 1 plays eos
  dlm::TokenRule rule;
  rule.banned = {1};
  auto c = run(l, rule);
  CHECK(c.token == 2);
  rule.banned.clear();
  rule.deferred = {1};
  c = run(l, rule);
  CHECK(c.token == 1);
  CHECK(c.score == -INFINITY);
}

TEST_CASE("the threshold rule commits the best always and the rest at or above T") {
  CHECK(dlm::select_threshold({0.2, 0.5, 0.1}, 0.9) == std::vector<std::int64_t>{1});
  CHECK(dlm::select_threshold({0.95, 0.5, 0.9, 0.91}, 0.9) ==
        std::vector<std::int64_t>{0, 2, 3});
  CHECK(dlm::select_threshold({0.3, 0.3}, 0.9) == std::vector<std::int64_t>{0});  // tie: lowest
}

TEST_CASE("the factor rule follows Fast-dLLM, the last candidate included") {
  // thresholds for factor 1: j=2: 1-1/3 = 0.667, j=3: 0.75, j=4: 0.8
  CHECK(dlm::select_factor({0.9, 0.5, 0.95, 0.7}, 1.0) == std::vector<std::int64_t>{0, 2});
  // first failure is the last candidate (j = m = 3): all three commit
  CHECK(dlm::select_factor({0.9, 0.7, 0.1}, 1.0) == std::vector<std::int64_t>{0, 1, 2});
  // nothing fails: all commit
  CHECK(dlm::select_factor({0.99, 0.98}, 1.0) == std::vector<std::int64_t>{0, 1});
  // a single candidate always commits
  CHECK(dlm::select_factor({0.01}, 1.0) == std::vector<std::int64_t>{0});
  // the second fails (j=2 of 4): only the best commits
  CHECK(dlm::select_factor({0.6, 0.99, 0.1, 0.1}, 1.0) == std::vector<std::int64_t>{1});
}

TEST_CASE("alg_temp draws k distinct positions, favouring high scores") {
  const std::vector<double> scores{0.9, 0.1, 0.8, 0.05};
  const std::vector<std::uint64_t> positions{0, 1, 2, 3};
  int high = 0;
  for (std::uint64_t step = 0; step < 500; ++step) {
    const auto chosen = dlm::select_sampled(scores, positions, 2, 0.1, 5, step);
    REQUIRE(chosen.size() == 2);
    CHECK(chosen[0] < chosen[1]);
    high += (chosen == std::vector<std::int64_t>{0, 2});
  }
  CHECK(high > 300);  // softmax(score / 0.1) puts most mass on positions 0 and 2
  CHECK(dlm::select_sampled(scores, positions, 2, 0.1, 5, 3) ==
        dlm::select_sampled(scores, positions, 2, 0.1, 5, 3));
}

TEST_CASE("stop strings end the text before them and hold back a possible start") {
  LetterTokenizer tok;
  dlm::TextStream stream(tok, 25 /* 'z' plays eos */, 100, {"cde"});
  CHECK(stream.advance(ids("abc_____")) == "ab");  // "c" may start "cde": held back
  CHECK(stream.advance(ids("abcd____")) == "");
  CHECK(stream.advance(ids("abcdx___")) == "cdx");  // "cdx" can no longer become "cde"
  CHECK(stream.hit_stop_string() == false);
}

TEST_CASE("a stop string found cuts the text and the tokens wholly before it") {
  LetterTokenizer tok;
  dlm::TextStream stream(tok, 25, 100, {"cd"});
  std::string out = stream.advance(ids("abcdef__"));
  out += stream.finish();
  CHECK(out == "ab");
  CHECK(stream.hit_stop_string());
  CHECK(stream.tokens() == ids("ab"));
}

TEST_CASE("strategy names and reference aliases parse; unknown names list the valid ones") {
  CHECK(dlm::parse_algorithm("low_confidence") == dlm::Algorithm::kConfidence);
  CHECK(dlm::parse_algorithm("maskgit_plus") == dlm::Algorithm::kConfidence);
  CHECK(dlm::parse_algorithm("topk_margin") == dlm::Algorithm::kMargin);
  CHECK(dlm::parse_algorithm("ddpm_cache") == dlm::Algorithm::kAncestral);
  dlm_test::require_usage_error([] { dlm::parse_algorithm("greedy"); },
                                {"--algorithm 'greedy'", "confidence", "origin"});
  dlm_test::require_usage_error([] { dlm::parse_style("gpt"); }, {"--style", "llada, dream"});
  dlm_test::require_usage_error([] { dlm::parse_schedule("cosine"); }, {"--schedule"});
  dlm_test::require_usage_error([] { dlm::parse_eos_policy("never"); }, {"--eos", "suppress"});
}
