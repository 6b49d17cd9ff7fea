#pragma once
// Candidate tokens and their scores for one masked position, and the commit rules,
// on plain float arrays (one row of logits), so every rule is testable on hand-made
// logits without torch. All arithmetic is float64 with sequential sums; the Python
// reference (scripts/reference/common.py) does the same operations in the same order.
#include <cstdint>
#include <vector>

#include "dlm/sampling/rng.h"
#include "dlm/sampling/names.h"

namespace dlm {

// A position's proposed token and its score (higher = commit sooner).
struct Candidate {
  std::int64_t token = 0;
  double score = 0.0;
};

// How every position's candidate is drawn and scored.
struct TokenRule {
  Style style = Style::kLlada;
  Algorithm algorithm = Algorithm::kConfidence;
  double temperature = 0.0;
  std::int64_t top_k = 0;               // 0: off; keeps every id tied with the k-th largest
  double top_p = 1.0;                   // 1: off; Dream's nucleus filter
  double min_p = 0.0;                   // 0: off; Hugging Face's MinPLogitsWarper, last filter
  std::vector<std::int64_t> banned;     // ids never proposed (--eos suppress)
  std::vector<std::int64_t> deferred;   // ids whose candidates score -inf (--eos defer)
};

// Draw keys of one position at one step.
struct DrawKey {
  std::uint64_t seed = 0;
  std::uint64_t position = 0;  // within the generated span
  std::uint64_t step = 0;
};

// The candidate of one position from its logits (only the first `vocab` read).
//  - LLaDA style: x0 = argmax_v exp(l_v) / (-log u_v)^T over the filtered ids (u_v:
//    stream kGumbel, index v; plain argmax at T = 0); scores read p = softmax(l).
//  - Dream style: q = softmax(filter(l / T)) (filter(l) at T = 0); x0 = inverse-CDF draw
//    from q with u (stream kTokenSample, index 0), argmax q at T = 0; scores read q.
// Scores: confidence p[x0]; margin p1 - p2; entropy sum p * log(p + 1e-10); random u
// (stream kPositionScore, index 0). Filters (T-scaled logits): top-p, then top-k, then
// min-p (with q = softmax of what is left, ids with q_v < min_p * max q are removed). Ties in
// every argmax go to the lowest id.
// Unfiltered LLaDA rows (the sampler's hot path) take a fast route that evaluates the
// Gumbel key only for ids that can still win; every row gives exactly, bit for bit, what
// propose_reference() gives. Allocates nothing vocabulary-sized on that route.
Candidate propose(const float* logits, std::int64_t vocab, const TokenRule& rule,
                  const DrawKey& key);

// propose() written out plainly, one vocabulary-sized pass per formula: the specification
// that propose() and the dlm::score operator are tested against.
Candidate propose_reference(const float* logits, std::int64_t vocab, const TokenRule& rule,
                            const DrawKey& key);

// Indices of the `k` highest scores; ties go to the lowest index (position) first.
// Returned in ascending index order.
std::vector<std::int64_t> select_top_k(const std::vector<double>& scores, std::int64_t k);

// Fast-dLLM's threshold rule: the best always, every other whose score >= threshold.
std::vector<std::int64_t> select_threshold(const std::vector<double>& scores, double threshold);

// Fast-dLLM's factor rule: with scores sorted c_1 >= ... >= c_m and thresholds -inf for
// j = 1 and 1 - factor / (j + 1) for j >= 2, the first failing j commits the j - 1 best;
// when the first failure is the last candidate (j = m), or nothing fails, all m commit.
std::vector<std::int64_t> select_factor(const std::vector<double>& scores, double factor);

// EB-sampler (Ben-Hamu et al., arXiv 2505.24857): positions in order of `scores` (the
// error proxy: confidence, margin or entropy; ties to the lowest index), the longest
// prefix U of that order whose entropies satisfy sum_{i in U} H_i - max_{i in U} H_i <=
// gamma. The first position always passes (its sum minus max is 0), so at least one
// commits. `entropies` are H_i >= 0 in nats, summed sequentially in float64. Ascending
// index order.
std::vector<std::int64_t> select_entropy_bounded(const std::vector<double>& scores,
                                                 const std::vector<double>& entropies,
                                                 double gamma);

// Dream's alg_temp: k positions drawn without replacement with probabilities
// softmax(score / alg_temp), as Gumbel-top-k: keys score / alg_temp - log(-log u_i),
// u_i from stream kSelect at (seed, positions[i], step). Ascending index order.
std::vector<std::int64_t> select_sampled(const std::vector<double>& scores,
                                         const std::vector<std::uint64_t>& positions,
                                         std::int64_t k, double alg_temp, std::uint64_t seed,
                                         std::uint64_t step);

}  // namespace dlm
