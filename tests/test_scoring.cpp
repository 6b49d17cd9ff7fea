// LLaDA's candidate rule (Gumbel-max in float64, low-confidence score) and the
// top-k commit rule, on hand-made logits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <vector>

#include "dlm/sampling/rng.h"
#include "dlm/sampling/scoring.h"

using dlm::RngKey;
using dlm::RngStream;
using dlm::select_top_k;
using Index = std::vector<std::int64_t>;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

RngKey gumbel_key(std::uint64_t seed, std::uint64_t position = 0, std::uint64_t step = 0) {
  return RngKey(seed, position, step, RngStream::kGumbel);
}

// LLaDA's rule written out (the specification propose() is checked against): the argmax
// of exp(l_v) / (-log u_v)^T (plain argmax at T = 0), scored by the softmax in float64.
dlm::Candidate llada_candidate(const float* logits, std::int64_t vocab, double temperature,
                               const RngKey& key) {
  dlm::Candidate c;
  double best = -kInf;
  for (std::int64_t v = 0; v < vocab; ++v) {
    const double value =
        temperature == 0.0
            ? double(logits[v])
            : std::exp(double(logits[v])) /
                  std::pow(-std::log(key.uniform(static_cast<std::uint64_t>(v))), temperature);
    if (value > best) {
      best = value;
      c.token = v;
    }
  }
  const double m = *std::max_element(logits, logits + vocab);
  std::vector<double> p(static_cast<std::size_t>(vocab));
  double sum = 0.0;
  for (std::int64_t v = 0; v < vocab; ++v) {
    p[v] = std::exp(double(logits[v]) - m);
    sum += p[v];
  }
  c.score = p[static_cast<std::size_t>(c.token)] / sum;
  return c;
}

dlm::Candidate candidate(const std::vector<float>& logits, double temperature,
                         const RngKey& key = gumbel_key(0)) {
  return llada_candidate(logits.data(), static_cast<std::int64_t>(logits.size()), temperature, key);
}

// softmax(logits)[token] written out directly, in float64.
double softmax_at(const std::vector<float>& logits, std::int64_t token) {
  double sum = 0.0;
  for (const float l : logits) sum += std::exp(static_cast<double>(l));
  return std::exp(static_cast<double>(logits[static_cast<std::size_t>(token)])) / sum;
}

// argmax_v exp(l_v) / (-log u_v)^T with u_v = key.uniform(v), as LLaDA's add_gumbel_noise.
std::int64_t gumbel_argmax(const std::vector<float>& logits, double temperature, const RngKey& key) {
  std::int64_t best_token = -1;
  double best = -kInf;
  for (std::size_t v = 0; v < logits.size(); ++v) {
    const double value = std::exp(static_cast<double>(logits[v])) /
                         std::pow(-std::log(key.uniform(v)), temperature);
    if (value > best) {
      best = value;
      best_token = static_cast<std::int64_t>(v);
    }
  }
  return best_token;
}

// Logits in [-4, 4), reproducible, from a stream the sampler does not use for this.
std::vector<float> random_logits(std::size_t vocab, std::uint64_t seed) {
  const RngKey key(seed, 0, 0, RngStream::kTokenSample);
  std::vector<float> logits(vocab);
  for (std::size_t v = 0; v < vocab; ++v) logits[v] = static_cast<float>(8.0 * key.uniform(v) - 4.0);
  return logits;
}

}  // namespace

TEST_CASE("llada_candidate at T=0 is the argmax with its softmax probability", "[scoring]") {
  const std::vector<float> logits{0.25f, 2.0f, -1.0f, 0.5f};  // exact in float32
  const auto c = candidate(logits, 0.0);
  CHECK(c.token == 1);
  const double expected = std::exp(2.0) / (std::exp(0.25) + std::exp(2.0) + std::exp(-1.0) +
                                           std::exp(0.5));
  CHECK(c.score == Approx(expected).epsilon(1e-12));
  CHECK(c.score == Approx(softmax_at(logits, 1)).epsilon(1e-12));
}

TEST_CASE("llada_candidate at T=0 breaks ties toward the lowest id", "[scoring]") {
  CHECK(candidate({1.0f, 3.0f, 3.0f, 0.0f}, 0.0).token == 1);
  CHECK(candidate({5.0f, 5.0f, 5.0f}, 0.0).token == 0);
  const auto flat = candidate(std::vector<float>(8, 0.0f), 0.0);
  CHECK(flat.token == 0);
  CHECK(flat.score == Approx(1.0 / 8).epsilon(1e-12));
}

TEST_CASE("llada_candidate scores in float64, not in float32", "[scoring]") {
  // p = 1 / (1 + e^-20) = 1 - 2.06e-9 rounds to exactly 1 in float32.
  const auto c = candidate({20.0f, 0.0f}, 0.0);
  REQUIRE(c.token == 0);
  CHECK(c.score < 1.0);
  CHECK(1.0 - c.score == Approx(std::exp(-20.0) / (1.0 + std::exp(-20.0))).epsilon(1e-6));
  // Closer still to 1: 1 - 2e-13 needs float64's mantissa.
  const auto sure = candidate({30.0f, 0.0f, 0.0f}, 0.0);
  CHECK(sure.score < 1.0);
  CHECK(1.0 - sure.score == Approx(2.0 * std::exp(-30.0)).epsilon(1e-2));
}

TEST_CASE("llada_candidate reads only the first vocab columns", "[scoring]") {
  // A padded output head: 4 real ids, then columns the sampler must never look at.
  const std::vector<float> row{0.5f, 1.5f, 0.25f, -2.0f, 1e30f, 88.0f};
  const std::vector<float> real(row.begin(), row.begin() + 4);
  for (const double temperature : {0.0, 0.7, 1.0, 5.0}) {
    for (std::uint64_t seed = 0; seed < 50; ++seed) {
      INFO("T " << temperature << " seed " << seed);
      const auto c = llada_candidate(row.data(), 4, temperature, gumbel_key(seed));
      REQUIRE(c.token >= 0);
      REQUIRE(c.token < 4);
      REQUIRE(c.score == Approx(softmax_at(real, c.token)).epsilon(1e-12));
    }
  }
}

TEST_CASE("llada_candidate at T>0 is argmax exp(l) / (-log u)^T with u from the key",
          "[scoring]") {
  const auto logits = random_logits(64, 11);
  for (const double temperature : {0.3, 1.0, 2.5}) {
    for (std::uint64_t position = 0; position < 20; ++position) {
      const RngKey key = gumbel_key(1234, position, 7);
      INFO("T " << temperature << " position " << position);
      const auto c = candidate(logits, temperature, key);
      REQUIRE(c.token == gumbel_argmax(logits, temperature, key));
      // The score reads the unperturbed softmax at the chosen token.
      REQUIRE(c.score == Approx(softmax_at(logits, c.token)).epsilon(1e-12));
    }
  }
}

TEST_CASE("llada_candidate at T>0 depends on the key, at T=0 it does not", "[scoring]") {
  const std::vector<float> flat(64, 0.0f);
  std::set<std::int64_t> sampled;
  std::set<std::int64_t> greedy;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    sampled.insert(candidate(flat, 1.0, gumbel_key(seed)).token);
    greedy.insert(candidate(flat, 0.0, gumbel_key(seed)).token);
  }
  CHECK(sampled.size() > 5);
  CHECK(greedy == std::set<std::int64_t>{0});
  // The same key gives the same token.
  CHECK(candidate(flat, 1.0, gumbel_key(3, 4, 5)).token ==
        candidate(flat, 1.0, gumbel_key(3, 4, 5)).token);
}

TEST_CASE("llada_candidate at T=1 samples from the softmax (Gumbel-max)", "[scoring]") {
  const std::vector<float> logits{std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  const int draws = 20000;
  std::vector<int> hits(3, 0);
  for (int i = 0; i < draws; ++i) {
    ++hits[static_cast<std::size_t>(candidate(logits, 1.0, gumbel_key(99, i)).token)];
  }
  CHECK(hits[0] / double(draws) == Approx(0.5).margin(0.015));
  CHECK(hits[1] / double(draws) == Approx(0.3).margin(0.015));
  CHECK(hits[2] / double(draws) == Approx(0.2).margin(0.015));
}

TEST_CASE("propose with the default rule is llada_candidate", "[scoring]") {
  // The sampler calls propose(); llada_candidate is LLaDA's rule written out.
  const auto logits = random_logits(64, 5);
  for (const double temperature : {0.0, 0.7, 1.0}) {
    for (std::uint64_t position = 0; position < 10; ++position) {
      INFO("T " << temperature << " position " << position);
      dlm::TokenRule rule;
      rule.temperature = temperature;
      const auto p = dlm::propose(logits.data(), 64, rule, dlm::DrawKey{21, position, 4});
      const auto c = candidate(logits, temperature, gumbel_key(21, position, 4));
      REQUIRE(p.token == c.token);
      REQUIRE(p.score == c.score);
    }
  }
}

TEST_CASE("select_top_k returns the k highest scores in ascending index order", "[scoring]") {
  const std::vector<double> scores{0.1, 0.9, 0.5, 0.8, 0.3};
  CHECK(select_top_k(scores, 1) == Index{1});
  CHECK(select_top_k(scores, 2) == Index{1, 3});
  CHECK(select_top_k(scores, 3) == Index{1, 2, 3});
  CHECK(select_top_k(scores, 5) == Index{0, 1, 2, 3, 4});
  // Highest score last: still returned in ascending index order.
  CHECK(select_top_k({0.2, 0.1, 0.9}, 2) == Index{0, 2});
}

TEST_CASE("select_top_k breaks ties toward the lowest index", "[scoring]") {
  CHECK(select_top_k({0.5, 0.5, 0.5, 0.5}, 2) == Index{0, 1});
  CHECK(select_top_k({0.1, 0.7, 0.3, 0.7, 0.7}, 2) == Index{1, 3});
  CHECK(select_top_k({0.7, 0.2, 0.7, 0.9}, 2) == Index{0, 3});
}

TEST_CASE("select_top_k never picks -inf before a finite score", "[scoring]") {
  const std::vector<double> scores{-kInf, -kInf, 0.0, -kInf, 1e-300};
  CHECK(select_top_k(scores, 1) == Index{4});
  CHECK(select_top_k(scores, 2) == Index{2, 4});
  CHECK(select_top_k(scores, 3) == Index{0, 2, 4});  // then -inf, lowest index first
}

TEST_CASE("select_top_k with k=0 selects nothing", "[scoring]") {
  CHECK(select_top_k({0.3, 0.9}, 0).empty());
  CHECK(select_top_k({}, 0).empty());
}

namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Rows of many shapes from one seed: scale, shift, quantisation (ties), a few NaN / -inf.
std::vector<float> fuzz_row(std::size_t vocab, std::uint64_t seed) {
  const RngKey key(seed, 1, 2, RngStream::kReveal);
  const double scale = std::exp(6.0 * key.uniform(0) - 2.0);  // 0.14 .. 55
  const double shift = key.uniform(1) < 0.2 ? 1300.0 * key.uniform(2) - 650.0 : 0.0;
  const bool quantised = key.uniform(3) < 0.3;
  std::vector<float> row(vocab);
  for (std::size_t v = 0; v < vocab; ++v) {
    double x = scale * (key.uniform(10 + 2 * v) + key.uniform(11 + 2 * v) - 1.0) * 2.0;
    if (quantised) x = std::round(x);
    row[v] = static_cast<float>(x + shift);
    const double odd = key.uniform(100000 + v);
    if (odd < 0.01) row[v] = std::numeric_limits<float>::quiet_NaN();
    if (odd > 0.99) row[v] = -std::numeric_limits<float>::infinity();
  }
  return row;
}

}  // namespace

TEST_CASE("propose gives exactly what propose_reference gives", "[scoring]") {
  // propose() skips Gumbel keys that cannot win and reads only the probabilities it needs;
  // every token and score must still be the reference's, bit for bit.
  const dlm::Algorithm algorithms[] = {dlm::Algorithm::kConfidence, dlm::Algorithm::kMargin,
                                       dlm::Algorithm::kEntropy, dlm::Algorithm::kRandom};
  const double temperatures[] = {0.0, 1e-3, 0.05, 0.3, 0.8, 1.0, 1.5, 5.0, 16.0, 40.0};
  for (std::uint64_t seed = 0; seed < 400; ++seed) {
    const std::size_t vocab = seed % 7 == 0 ? 3 : 500;
    const auto row = fuzz_row(vocab, seed);
    dlm::TokenRule rule;
    rule.algorithm = algorithms[seed % 4];
    rule.temperature = temperatures[(seed / 4) % 10];
    if (seed % 5 == 1) rule.banned = {0, static_cast<std::int64_t>(vocab) - 1, 42};
    if (seed % 5 == 2) rule.deferred = {static_cast<std::int64_t>(seed % vocab)};
    if (seed % 11 == 3) rule.top_k = 4;
    const dlm::DrawKey key{seed, seed % 13, seed % 17};
    INFO("seed " << seed << " T " << rule.temperature);
    const auto fast = dlm::propose(row.data(), static_cast<std::int64_t>(vocab), rule, key);
    const auto reference =
        dlm::propose_reference(row.data(), static_cast<std::int64_t>(vocab), rule, key);
    REQUIRE(fast.token == reference.token);
    REQUIRE(same_bits(fast.score, reference.score));
  }
}

TEST_CASE("min-p removes ids below min_p times the largest probability, after temperature",
          "[scoring]") {
  // Hugging Face's MinPLogitsWarper on the temperature-scaled logits. Dream style scores read
  // the filtered distribution, so the kept set shows in the confidence of the argmax.
  const std::vector<float> logits{0.0f, -1.0f, -3.0f};
  dlm::TokenRule rule;
  rule.style = dlm::Style::kDream;
  const auto confidence = [&](double min_p, double t) {
    rule.min_p = min_p;
    rule.temperature = t;
    // T > 0 draws the token; id 0 is the argmax, read its score at T = 0 through the draw.
    return dlm::propose_reference(logits.data(), 3, rule, dlm::DrawKey{}).score;
  };
  const double e1 = std::exp(-1.0), e3 = std::exp(-3.0);
  CHECK(confidence(0.0, 0.0) == Approx(1.0 / (1.0 + e1 + e3)));
  CHECK(confidence(0.1, 0.0) == Approx(1.0 / (1.0 + e1)));  // p2/p0 = e^-3 < 0.1 <= e^-1
  CHECK(confidence(0.4, 0.0) == Approx(1.0));               // e^-1 = 0.37 < 0.4: only id 0
  // At T = 2 the ratios are e^-0.5 = 0.61 and e^-1.5 = 0.22: min-p 0.6 keeps id 1, 0.62 not.
  rule.min_p = 0.6;
  rule.temperature = 2.0;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const auto c = dlm::propose_reference(logits.data(), 3, rule, dlm::DrawKey{seed, 0, 0});
    CHECK(c.token != 2);
  }
  rule.min_p = 0.62;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    CHECK(dlm::propose_reference(logits.data(), 3, rule, dlm::DrawKey{seed, 0, 0}).token == 0);
  }
}

TEST_CASE("min-p limits LLaDA's Gumbel draw to the kept ids; propose matches the reference",
          "[scoring]") {
  // One logit of 5 over 200 zeros: at T = 1 most draws fall on a zero (200 e^-5 / (1 + 200
  // e^-5) = 57%); min-p 0.5 keeps only id 7.
  std::vector<float> logits(201, 0.0f);
  logits[7] = 5.0f;
  dlm::TokenRule rule;
  rule.temperature = 1.0;
  int others = 0;
  for (std::uint64_t seed = 0; seed < 100; ++seed) {
    const dlm::DrawKey key{seed, 1, 2};
    rule.min_p = 0.0;
    others += dlm::propose(logits.data(), 201, rule, key).token != 7 ? 1 : 0;
    rule.min_p = 0.5;
    const auto c = dlm::propose(logits.data(), 201, rule, key);
    CHECK(c.token == 7);
    const auto ref = dlm::propose_reference(logits.data(), 201, rule, key);
    CHECK(c.token == ref.token);
    CHECK(c.score == ref.score);
  }
  CHECK(others > 30);
}
