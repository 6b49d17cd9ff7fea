#pragma once
// Candidate tokens and their scores for one masked position, and the commit rule,
// on plain float arrays (one row of logits), so the rules are testable on hand-made
// logits without torch.
#include <cstdint>
#include <vector>

#include "dlm/rng.h"

namespace dlm {

// A position's proposed token and its score (higher = commit sooner).
struct Candidate {
  std::int64_t token = 0;
  double score = 0.0;
};

// LLaDA's candidate: x0 = argmax_v exp(l_v) / (-log u_v)^T in float64 with u_v drawn
// from `gumbel_key` at index v (plain argmax at T = 0; ties to the lowest id); score =
// softmax(l)[x0] of the unperturbed logits, in float64 (`low_confidence`). Only the
// first `vocab` columns are read (padded output heads are never sampled).
Candidate llada_candidate(const float* logits, std::int64_t vocab, double temperature,
                          const RngKey& gumbel_key);

// Indices of the `k` highest scores; ties go to the lowest index (position) first.
// Returned in ascending index order.
std::vector<std::int64_t> select_top_k(const std::vector<double>& scores, std::int64_t k);

}  // namespace dlm
