// dlm's operators (dlm::score, dlm::commit, dlm::cache_write), written once and run on
// every available device. On the CPU, score must equal propose_reference() (and so
// propose()) bit for bit, row by row; on other devices the CPU result is the reference.
// torch first: its glog defines a one-argument CHECK that Catch's must replace.
#include <ATen/ATen.h>
#include <torch/cuda.h>
#undef CHECK
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "dlm/error.h"
#include "dlm/ops/ops.h"
#include "dlm/sampling/rng.h"
#include "dlm/sampling/scoring.h"

using dlm::Algorithm;
using dlm::Style;
using dlm::TokenRule;
using dlm::ops::CommitRule;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<at::Device> devices() {
  std::vector<at::Device> out{at::Device(at::kCPU)};
  if (torch::cuda::is_available()) out.emplace_back(at::kCUDA);
  return out;
}

// Reproducible numbers from a stream the operators do not draw from for these keys.
double uniform(std::uint64_t seed, std::uint64_t index) {
  return dlm::RngKey(seed, 1000, 1000, dlm::RngStream::kReveal).uniform(index);
}

// [rows, vocab] float32 logits: scale * N(0, 1) (Box-Muller) plus a shift.
at::Tensor normal_logits(std::int64_t rows, std::int64_t vocab, double scale, std::uint64_t seed,
                         double shift = 0.0) {
  at::Tensor out = at::empty({rows, vocab}, at::kFloat);
  auto* x = out.data_ptr<float>();
  for (std::int64_t i = 0; i < rows * vocab; ++i) {
    const double u1 = uniform(seed, 2 * i), u2 = uniform(seed, 2 * i + 1);
    x[i] = static_cast<float>(shift + scale * std::sqrt(-2.0 * std::log(u1)) *
                                          std::cos(6.283185307179586 * u2));
  }
  return out;
}

// [rows, vocab] float32 logits uniform in [lo, hi).
at::Tensor uniform_logits(std::int64_t rows, std::int64_t vocab, double lo, double hi,
                          std::uint64_t seed) {
  at::Tensor out = at::empty({rows, vocab}, at::kFloat);
  auto* x = out.data_ptr<float>();
  for (std::int64_t i = 0; i < rows * vocab; ++i) {
    x[i] = static_cast<float>(lo + (hi - lo) * uniform(seed, i));
  }
  return out;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

struct Keys {
  at::Tensor seeds, positions, steps;
};

// Row r draws with key (seed, 3 r + 1, step).
Keys keys_for(std::int64_t rows, std::uint64_t seed, std::uint64_t step) {
  const auto opts = at::TensorOptions().dtype(at::kLong);
  return {at::full({rows}, static_cast<std::int64_t>(seed), opts), at::arange(rows, opts) * 3 + 1,
          at::full({rows}, static_cast<std::int64_t>(step), opts)};
}

TokenRule make_rule(Style style, Algorithm algorithm, double temperature) {
  TokenRule rule;
  rule.style = style;
  rule.algorithm = algorithm;
  rule.temperature = temperature;
  return rule;
}

std::string describe(const TokenRule& rule) {
  std::string s = "style " + dlm::to_string(rule.style) + ", algorithm " +
                  dlm::to_string(rule.algorithm) + ", T " + std::to_string(rule.temperature) +
                  ", top_k " + std::to_string(rule.top_k) + ", top_p " +
                  std::to_string(rule.top_p) + ", banned";
  for (const auto id : rule.banned) s += " " + std::to_string(id);
  s += ", deferred";
  for (const auto id : rule.deferred) s += " " + std::to_string(id);
  return s;
}

// Runs dlm::score on every device. CPU: each row is propose_reference() and propose() on
// the row's float values, bit for bit. Other devices: the CPU's tokens, and its scores to
// float64 rounding. Returns the CPU tokens.
at::Tensor check_score(const at::Tensor& logits, const TokenRule& rule, std::uint64_t seed = 7,
                       std::uint64_t step = 3) {
  INFO(describe(rule) << ", logits " << logits.sizes() << " " << logits.scalar_type());
  const auto rows = logits.size(0), vocab = logits.size(1);
  const Keys k = keys_for(rows, seed, step);
  const auto [tokens, scores] = dlm::ops::score(logits, k.seeds, k.positions, k.steps, rule);
  REQUIRE(tokens.scalar_type() == at::kLong);
  REQUIRE(scores.scalar_type() == at::kDouble);
  REQUIRE(tokens.sizes() == at::IntArrayRef{rows});
  const at::Tensor floats = logits.to(at::kFloat).contiguous();
  for (std::int64_t r = 0; r < rows; ++r) {
    INFO("row " << r);
    const float* row = floats.data_ptr<float>() + r * vocab;
    const dlm::DrawKey key{seed, static_cast<std::uint64_t>(3 * r + 1), step};
    const auto expected = dlm::propose_reference(row, vocab, rule, key);
    const auto fast = dlm::propose(row, vocab, rule, key);
    REQUIRE(tokens[r].item<std::int64_t>() == expected.token);
    REQUIRE(same_bits(scores[r].item<double>(), expected.score));
    REQUIRE(fast.token == expected.token);
    REQUIRE(same_bits(fast.score, expected.score));
  }
  for (const auto& device : devices()) {
    if (device.is_cpu()) continue;
    INFO("device " << device);
    const auto [t, s] = dlm::ops::score(logits.to(device), k.seeds.to(device),
                                        k.positions.to(device), k.steps.to(device), rule);
    REQUIRE(t.device().type() == device.type());
    REQUIRE(at::equal(t.cpu(), tokens));
    const at::Tensor got = s.cpu();
    for (std::int64_t r = 0; r < rows; ++r) {
      const double want = scores[r].item<double>();
      INFO("row " << r);
      if (std::isinf(want)) {
        REQUIRE(got[r].item<double>() == want);
      } else {
        REQUIRE(got[r].item<double>() == Approx(want).epsilon(1e-9).margin(1e-12));
      }
    }
  }
  return tokens;
}

// SplitMix64's finaliser inverted, to build keys with a chosen draw.
std::uint64_t inverse_odd(std::uint64_t a) {
  std::uint64_t x = a;  // Newton's iteration doubles the correct low bits each time
  for (int i = 0; i < 6; ++i) x *= 2 - a * x;
  return x;
}
std::uint64_t unshift(std::uint64_t z, int s) {
  std::uint64_t x = z;
  for (int i = 0; i < 64 / s + 1; ++i) x = z ^ (x >> s);
  return x;
}
std::uint64_t unmix64(std::uint64_t z) {
  z = unshift(z, 31);
  z *= inverse_odd(0x94D049BB133111EBULL);
  z = unshift(z, 27);
  z *= inverse_odd(0xBF58476D1CE4E5B9ULL);
  return unshift(z, 30);
}

}  // namespace

TEST_CASE("ops: score equals propose on random rows for every rule", "[ops]") {
  const at::Tensor mild = uniform_logits(6, 4096, -4.0, 4.0, 1);
  const at::Tensor peaked = normal_logits(6, 4096, 4.0, 2);
  for (const auto style : {Style::kLlada, Style::kDream}) {
    for (const auto algorithm :
         {Algorithm::kConfidence, Algorithm::kMargin, Algorithm::kEntropy, Algorithm::kRandom}) {
      for (const double t : {0.0, 0.3, 0.8, 1.5, 5.0}) {
        check_score(mild, make_rule(style, algorithm, t), 11, 2);
        check_score(peaked, make_rule(style, algorithm, t), 12, 5);
      }
    }
  }
}

TEST_CASE("ops: score draws depend on the row's key only", "[ops]") {
  const at::Tensor logits = normal_logits(1, 512, 1.0, 3).expand({64, 512}).contiguous();
  const auto tokens = check_score(logits, make_rule(Style::kLlada, Algorithm::kConfidence, 1.0));
  // One distribution, 64 keys: the draws differ, and a row's draw is its own key's.
  std::set<std::int64_t> distinct;
  for (std::int64_t r = 0; r < 64; ++r) distinct.insert(tokens[r].item<std::int64_t>());
  CHECK(distinct.size() > 20);
  const Keys k = keys_for(64, 7, 3);
  const auto [some, unused] = dlm::ops::score(
      logits.slice(0, 10, 20), k.seeds.slice(0, 10, 20), k.positions.slice(0, 10, 20),
      k.steps.slice(0, 10, 20), make_rule(Style::kLlada, Algorithm::kConfidence, 1.0));
  CHECK(at::equal(some, tokens.slice(0, 10, 20)));
}

TEST_CASE("ops: score with top-k and top-p filters", "[ops]") {
  const at::Tensor logits = normal_logits(4, 4096, 2.0, 4);
  for (const auto style : {Style::kLlada, Style::kDream}) {
    for (const double t : {0.0, 0.8, 1.5}) {
      for (const std::int64_t top_k : {1, 5, 4096}) {
        auto rule = make_rule(style, Algorithm::kConfidence, t);
        rule.top_k = top_k;
        check_score(logits, rule);
      }
      for (const double top_p : {0.5, 0.95}) {
        auto rule = make_rule(style, Algorithm::kMargin, t);
        rule.top_p = top_p;
        check_score(logits, rule);
        rule.top_k = 3;
        check_score(logits, rule);
      }
      for (const double min_p : {0.05, 0.5, 1.0}) {  // alone, then after top-p
        auto rule = make_rule(style, Algorithm::kConfidence, t);
        rule.min_p = min_p;
        check_score(logits, rule);
        rule.top_p = 0.9;
        rule.algorithm = Algorithm::kEntropy;
        check_score(logits, rule);
      }
    }
  }
}

TEST_CASE("ops: score with banned and deferred ids", "[ops]") {
  const at::Tensor logits = normal_logits(4, 1024, 3.0, 5);
  const auto greedy = check_score(logits, make_rule(Style::kLlada, Algorithm::kConfidence, 0.0));
  const auto favourite = greedy[0].item<std::int64_t>();
  for (const auto style : {Style::kLlada, Style::kDream}) {
    for (const double t : {0.0, 0.8}) {
      for (const auto algorithm : {Algorithm::kConfidence, Algorithm::kMargin}) {
        auto rule = make_rule(style, algorithm, t);
        // Out-of-range and repeated ids are ignored; the row's argmax is among the banned.
        rule.banned = {0, 1023, favourite, favourite, -5, 5000};
        const auto tokens = check_score(logits, rule);
        for (std::int64_t r = 0; r < 4; ++r) {
          CHECK(tokens[r].item<std::int64_t>() != 0);
          CHECK(tokens[r].item<std::int64_t>() != 1023);
        }
        CHECK(tokens[0].item<std::int64_t>() != favourite);
        rule.banned.clear();
        rule.deferred = {favourite, 7};
        check_score(logits, rule);
      }
    }
  }
  // A deferred candidate scores -inf.
  auto rule = make_rule(Style::kLlada, Algorithm::kConfidence, 0.0);
  rule.deferred = {favourite};
  const Keys k = keys_for(4, 7, 3);
  const auto [tokens, scores] = dlm::ops::score(logits, k.seeds, k.positions, k.steps, rule);
  CHECK(tokens[0].item<std::int64_t>() == favourite);
  CHECK(scores[0].item<double>() == -kInf);
  CHECK(scores[1].item<double>() > 0.0);
}

TEST_CASE("ops: score on NaN, infinite, huge and tiny logits", "[ops]") {
  const std::int64_t vocab = 256;
  at::Tensor logits = normal_logits(12, vocab, 2.0, 6);
  auto row = [&](std::int64_t r) { return logits.select(0, r); };
  row(0)[0] = kNaN;  // NaN at id 0 and elsewhere: probability 0, never proposed
  row(0)[17] = kNaN;
  row(1).fill_(kNaN);  // nothing to propose
  row(2).fill_(-kInf);
  row(2)[100] = 1.0f;  // one finite id
  row(3)[5] = static_cast<float>(kInf);
  row(4).add_(705.0f);  // beyond the fast route's range, both ways
  row(5).sub_(705.0f);
  row(6).mul_(1e20f);
  row(7)[3] = 1e30f;
  row(7)[9] = -1e30f;
  row(8).mul_(1e-30f);  // nearly flat
  row(9).fill_(-kInf);
  row(10).add_(300.0f);
  row(11).sub_(650.0f);
  for (const auto style : {Style::kLlada, Style::kDream}) {
    for (const auto algorithm :
         {Algorithm::kConfidence, Algorithm::kMargin, Algorithm::kEntropy, Algorithm::kRandom}) {
      for (const double t : {0.0, 0.3, 1.0, 5.0})
        check_score(logits, make_rule(style, algorithm, t));
    }
  }
  const auto tokens = check_score(logits, make_rule(Style::kLlada, Algorithm::kConfidence, 0.8));
  CHECK(tokens[0].item<std::int64_t>() != 17);
  CHECK(tokens[2].item<std::int64_t>() == 100);
  CHECK(tokens[3].item<std::int64_t>() == 5);
}

TEST_CASE("ops: score breaks ties toward the lowest id", "[ops]") {
  at::Tensor logits = at::zeros({4, 64}, at::kFloat);
  logits[1][9] = 2.0f;
  logits[1][40] = 2.0f;
  logits[2].fill_(-3.0f);
  logits[3][63] = 1.0f;
  logits[3][62] = 1.0f;
  for (const auto algorithm : {Algorithm::kConfidence, Algorithm::kMargin}) {
    const auto greedy = check_score(logits, make_rule(Style::kLlada, algorithm, 0.0));
    CHECK(greedy[0].item<std::int64_t>() == 0);
    CHECK(greedy[1].item<std::int64_t>() == 9);
    CHECK(greedy[2].item<std::int64_t>() == 0);
    CHECK(greedy[3].item<std::int64_t>() == 62);
    const auto dream = check_score(logits, make_rule(Style::kDream, algorithm, 0.0));
    CHECK(at::equal(dream, greedy));
    for (const double t : {0.3, 0.8, 1.5, 5.0}) {
      check_score(logits, make_rule(Style::kLlada, algorithm, t));
      check_score(logits, make_rule(Style::kDream, algorithm, t));
    }
  }
}

TEST_CASE("ops: score at temperatures outside the fast route", "[ops]") {
  const at::Tensor logits = normal_logits(3, 2048, 3.0, 7);
  for (const double t : {1e-6, 1e-4, 1e-3, 16.0, 20.0, 200.0, -1.0}) {
    check_score(logits, make_rule(Style::kLlada, Algorithm::kConfidence, t));
    check_score(logits, make_rule(Style::kLlada, Algorithm::kMargin, t));
  }
}

TEST_CASE("ops: score when a Gumbel draw rounds to u = 1", "[ops]") {
  // Build a step whose kGumbel draw at id `target` has all 53 top bits set: u rounds to 1,
  // -log u = 0, and the reference's key is exp(l) / 0 = +inf, which wins.
  const std::uint64_t seed = 5, position = 4, target = 300;
  const std::uint64_t z = unmix64(~0ULL);  // mix64(z) = 2^64 - 1
  const std::uint64_t key = z - (target + 1) * 0x9E3779B97F4A7C15ULL;
  const std::uint64_t h3 = unmix64(key) ^ 0x8CB92BA72F3D8DD7ULL;  // stream kGumbel
  std::uint64_t h2 = dlm::mix64(seed ^ 0x9E3779B97F4A7C15ULL);
  h2 = dlm::mix64(h2 ^ ((position + 1) * 0xD1B54A32D192ED03ULL));
  const std::uint64_t step = ((unmix64(h3) ^ h2) * inverse_odd(0xABC98388FB8FAC03ULL)) - 1;
  const dlm::RngKey gumbel(seed, position, step, dlm::RngStream::kGumbel);
  REQUIRE(gumbel.uniform(target) == 1.0);

  const at::Tensor logits = normal_logits(1, 1024, 3.0, 8);
  const float* row = logits.data_ptr<float>();
  for (const double t : {0.5, 1.0}) {
    const auto rule = make_rule(Style::kLlada, Algorithm::kConfidence, t);
    const dlm::DrawKey draw{seed, position, step};
    const auto expected = dlm::propose_reference(row, 1024, rule, draw);
    // -log 1 is -0: pow(-0, 0.5) = +0 makes the key +inf (it wins), pow(-0, 1) = -0 -inf.
    CHECK((expected.token == static_cast<std::int64_t>(target)) == (t == 0.5));
    const auto fast = dlm::propose(row, 1024, rule, draw);
    CHECK(fast.token == expected.token);
    CHECK(same_bits(fast.score, expected.score));
    const auto opts = at::TensorOptions().dtype(at::kLong);
    for (const auto& device : devices()) {
      INFO("device " << device << ", T " << t);
      const auto [tokens, scores] = dlm::ops::score(
          logits.to(device), at::full({1}, static_cast<std::int64_t>(seed), opts).to(device),
          at::full({1}, static_cast<std::int64_t>(position), opts).to(device),
          at::full({1}, static_cast<std::int64_t>(step), opts).to(device), rule);
      CHECK(tokens.cpu()[0].item<std::int64_t>() == expected.token);
    }
  }
}

TEST_CASE("ops: score reads float16 and bfloat16 logits exactly", "[ops]") {
  const at::Tensor logits = normal_logits(4, 4096, 3.0, 9);
  for (const auto dtype : {at::kHalf, at::kBFloat16}) {
    const at::Tensor narrow = logits.to(dtype);
    for (const auto style : {Style::kLlada, Style::kDream}) {
      for (const double t : {0.0, 0.8}) {
        // check_score compares with propose on narrow.to(float): the same values.
        check_score(narrow, make_rule(style, Algorithm::kConfidence, t));
        check_score(narrow, make_rule(style, Algorithm::kEntropy, t));
      }
    }
    // bfloat16 has ties galore: still the reference's choice.
    auto rule = make_rule(Style::kLlada, Algorithm::kMargin, 0.0);
    check_score(narrow.mul(0.01), rule);
  }
}

TEST_CASE("ops: score on a large vocabulary", "[ops]") {
  const at::Tensor logits = normal_logits(2, 126464, 3.0, 10);
  check_score(logits, make_rule(Style::kLlada, Algorithm::kConfidence, 0.8));
  check_score(logits, make_rule(Style::kLlada, Algorithm::kConfidence, 0.0));
  check_score(logits, make_rule(Style::kLlada, Algorithm::kMargin, 1.5));
  auto rule = make_rule(Style::kDream, Algorithm::kEntropy, 0.2);
  rule.top_p = 0.95;
  check_score(logits.slice(0, 0, 1), rule);
}

TEST_CASE("ops: score rejects malformed arguments", "[ops]") {
  const auto rule = make_rule(Style::kLlada, Algorithm::kConfidence, 0.0);
  const Keys k = keys_for(2, 1, 1);
  CHECK_THROWS_AS(
      dlm::ops::score(at::zeros({2, 8}, at::kDouble), k.seeds, k.positions, k.steps, rule),
      dlm::Error);
  CHECK_THROWS_WITH(
      dlm::ops::score(at::zeros({2, 8}, at::kDouble), k.seeds, k.positions, k.steps, rule),
      Catch::Contains("float32, bfloat16 or float16"));
  CHECK_THROWS_WITH(dlm::ops::score(at::zeros({8}), k.seeds, k.positions, k.steps, rule),
                    Catch::Contains("[N, V]"));
  CHECK_THROWS_WITH(dlm::ops::score(at::zeros({3, 8}), k.seeds, k.positions, k.steps, rule),
                    Catch::Contains("seeds must be a [3] int64"));
  CHECK_THROWS_WITH(
      dlm::ops::score(at::zeros({2, 8}), k.seeds, k.positions.to(at::kInt), k.steps, rule),
      Catch::Contains("positions must be a [2] int64"));
  auto bad = rule;
  bad.algorithm = static_cast<Algorithm>(9);
  CHECK_THROWS_WITH(dlm::ops::score(at::zeros({2, 8}), k.seeds, k.positions, k.steps, bad),
                    Catch::Contains("algorithm 9 is unknown"));
}

namespace {

struct CommitCase {
  at::Tensor scores, tokens, eligible, canvas, k;
};

// Runs dlm::commit on every device and checks it against select_* on each row's eligible
// slots; returns the CPU's chosen mask.
at::Tensor check_commit(const CommitCase& c, CommitRule rule, double value) {
  const auto rows = c.scores.size(0), width = c.scores.size(1);
  at::Tensor cpu_chosen;
  for (const auto& device : devices()) {
    INFO("device " << device << ", rule " << static_cast<int>(rule) << ", value " << value);
    at::Tensor canvas = c.canvas.to(device).clone();
    const at::Tensor chosen =
        dlm::ops::commit(c.scores.to(device), c.tokens.to(device), c.eligible.to(device), canvas,
                         c.k.to(device), rule, value)
            .cpu();
    REQUIRE(chosen.scalar_type() == at::kBool);
    REQUIRE(chosen.sizes() == c.scores.sizes());
    const at::Tensor written = canvas.cpu();
    for (std::int64_t b = 0; b < rows; ++b) {
      std::vector<std::int64_t> slots;
      std::vector<double> values;
      for (std::int64_t j = 0; j < width; ++j) {
        if (!c.eligible[b][j].item<bool>()) continue;
        slots.push_back(j);
        values.push_back(c.scores[b][j].item<double>());
      }
      std::vector<std::int64_t> picked;
      if (rule == CommitRule::kTopK)
        picked = dlm::select_top_k(values, c.k[b].item<std::int64_t>());
      if (rule == CommitRule::kThreshold) picked = dlm::select_threshold(values, value);
      if (rule == CommitRule::kFactor) picked = dlm::select_factor(values, value);
      std::vector<bool> expected(static_cast<std::size_t>(width), false);
      for (const auto i : picked) expected[static_cast<std::size_t>(slots[i])] = true;
      for (std::int64_t j = 0; j < width; ++j) {
        INFO("row " << b << " slot " << j);
        REQUIRE(chosen[b][j].item<bool>() == expected[static_cast<std::size_t>(j)]);
        const auto want = expected[static_cast<std::size_t>(j)] ? c.tokens[b][j] : c.canvas[b][j];
        REQUIRE(written[b][j].item<std::int64_t>() == want.item<std::int64_t>());
      }
    }
    if (device.is_cpu()) cpu_chosen = chosen;
  }
  return cpu_chosen;
}

// A bool tensor from 0/1 values (at::tensor builds no bool tensors from a list).
at::Tensor mask(std::vector<std::int64_t> values) {
  return at::tensor(values, at::kLong).to(at::kBool);
}

CommitCase commit_case(std::int64_t rows, std::int64_t width, std::uint64_t seed) {
  CommitCase c;
  c.scores = at::empty({rows, width}, at::kDouble);
  c.eligible = at::empty({rows, width}, at::kBool);
  for (std::int64_t i = 0; i < rows * width; ++i) {
    // Scores on a coarse grid, so that ties happen.
    c.scores.data_ptr<double>()[i] = std::floor(uniform(seed, i) * 8.0) / 8.0;
    c.eligible.data_ptr<bool>()[i] = uniform(seed + 1, i) < 0.7;
  }
  c.tokens = at::arange(rows * width, at::kLong).reshape({rows, width}) + 100;
  c.canvas = at::full({rows, width}, -1, at::kLong);
  c.k = at::arange(rows, at::kLong) % (width + 2);
  return c;
}

}  // namespace

TEST_CASE("ops: commit top-k with per-row k, ties and ineligible slots", "[ops]") {
  CommitCase c = commit_case(12, 16, 20);
  check_commit(c, CommitRule::kTopK, 0.0);
  // Hand-made: ties go to the lowest eligible slot; an ineligible best never commits.
  c.scores = at::tensor({0.9, 0.5, 0.5, 0.5, 0.99}, at::kDouble).reshape({1, 5});
  c.tokens = at::tensor({10, 11, 12, 13, 14}, at::kLong).reshape({1, 5});
  c.eligible = mask({1, 1, 1, 1, 0}).reshape({1, 5});
  c.canvas = at::full({1, 5}, -1, at::kLong);
  c.k = at::tensor({2}, at::kLong);
  const auto chosen = check_commit(c, CommitRule::kTopK, 0.0);
  CHECK(at::equal(chosen, mask({1, 1, 0, 0, 0}).reshape({1, 5})));
}

TEST_CASE("ops: commit threshold and factor rules", "[ops]") {
  const CommitCase c = commit_case(10, 24, 21);
  for (const double threshold : {0.3, 0.9, 2.0}) check_commit(c, CommitRule::kThreshold, threshold);
  for (const double factor : {0.5, 1.0, 3.0}) check_commit(c, CommitRule::kFactor, factor);
  // Threshold: the best always commits, even below the threshold.
  CommitCase one = c;
  one.scores = at::tensor({0.1, 0.2, 0.15}, at::kDouble).reshape({1, 3});
  one.tokens = at::tensor({1, 2, 3}, at::kLong).reshape({1, 3});
  one.eligible = at::ones({1, 3}, at::kBool);
  one.canvas = at::zeros({1, 3}, at::kLong);
  one.k = at::zeros({1}, at::kLong);
  const auto chosen = check_commit(one, CommitRule::kThreshold, 0.9);
  CHECK(at::equal(chosen, mask({0, 1, 0}).reshape({1, 3})));
}

TEST_CASE("ops: commit rejects malformed arguments", "[ops]") {
  CommitCase c = commit_case(2, 4, 22);
  CHECK_THROWS_WITH(dlm::ops::commit(c.scores.to(at::kFloat), c.tokens, c.eligible, c.canvas, c.k,
                                     CommitRule::kTopK, 0.0),
                    Catch::Contains("scores must be a [2, 4] Double"));
  CHECK_THROWS_WITH(dlm::ops::commit(c.scores, c.tokens, c.eligible, c.canvas,
                                     at::zeros({3}, at::kLong), CommitRule::kTopK, 0.0),
                    Catch::Contains("k must be a [2] int64"));
  CHECK_THROWS_AS(dlm::ops::commit(c.scores, c.tokens.slice(1, 0, 3), c.eligible, c.canvas, c.k,
                                   CommitRule::kTopK, 0.0),
                  dlm::Error);
  // k is not read by the other rules.
  CHECK_NOTHROW(dlm::ops::commit(c.scores, c.tokens, c.eligible, c.canvas,
                                 at::zeros({0}, at::kLong), CommitRule::kThreshold, 0.5));
}

TEST_CASE("ops: cache_write writes each row's window at its offset", "[ops]") {
  for (const auto dtype : {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16}) {
    const at::Tensor cache0 =
        at::arange(2 * 3 * 2 * 10 * 4, at::kFloat).reshape({2, 3, 2, 10, 4}).to(dtype);
    const at::Tensor fresh =
        (-at::arange(2 * 3 * 2 * 4 * 4, at::kFloat) - 1).reshape({2, 3, 2, 4, 4}).to(dtype);
    const std::vector<std::int64_t> lo{0, 6, 3};
    at::Tensor expected = cache0.clone();
    for (std::int64_t b = 0; b < 3; ++b) {
      expected.select(1, b).narrow(2, lo[b], 4).copy_(fresh.select(1, b));
    }
    for (const auto& device : devices()) {
      INFO("device " << device << ", dtype " << dtype);
      at::Tensor cache = cache0.to(device).clone();
      dlm::ops::cache_write(cache, fresh.to(device), at::tensor(lo, at::kLong).to(device));
      CHECK(at::equal(cache.cpu(), expected));
      // Offsets may also stay on the CPU.
      at::Tensor again = cache0.to(device).clone();
      dlm::ops::cache_write(again, fresh.to(device), at::tensor(lo, at::kLong));
      CHECK(at::equal(again.cpu(), expected));
    }
  }
}

TEST_CASE("ops: cache_write rejects windows that do not fit", "[ops]") {
  for (const auto& device : devices()) {
    INFO("device " << device);
    at::Tensor cache = at::zeros({1, 2, 1, 8, 2}, at::kFloat).to(device);
    const at::Tensor fresh = at::ones({1, 2, 1, 3, 2}, at::kFloat).to(device);
    CHECK_THROWS_WITH(dlm::ops::cache_write(cache, fresh, at::tensor({0, 6}, at::kLong)),
                      Catch::Contains("row 1: a window of 3 at offset 6 does not fit in a cache of "
                                      "length 8"));
    CHECK_THROWS_WITH(dlm::ops::cache_write(cache, fresh, at::tensor({-1, 0}, at::kLong)),
                      Catch::Contains("row 0") && Catch::Contains("offset -1"));
    CHECK(at::equal(cache.cpu(), at::zeros({1, 2, 1, 8, 2}, at::kFloat)));  // nothing written
    CHECK_THROWS_AS(
        dlm::ops::cache_write(cache, fresh.to(at::kDouble), at::tensor({0, 0}, at::kLong)),
        dlm::Error);
    CHECK_THROWS_AS(dlm::ops::cache_write(cache, at::ones({1, 2, 1, 3, 3}).to(device),
                                          at::tensor({0, 0}, at::kLong)),
                    dlm::Error);
    dlm::ops::cache_write(cache, fresh, at::tensor({5, 0}, at::kLong));  // the last offset fits
    CHECK(cache.cpu().select(1, 0).narrow(2, 5, 3).eq(1).all().item<bool>());
  }
}
