#include "dlm/scoring.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dlm {

Candidate llada_candidate(const float* logits, std::int64_t vocab, double temperature,
                          const RngKey& gumbel_key) {
  Candidate c;
  double best = -INFINITY;
  if (temperature == 0.0) {
    for (std::int64_t v = 0; v < vocab; ++v) {
      if (logits[v] > best) {
        best = logits[v];
        c.token = v;
      }
    }
  } else {
    for (std::int64_t v = 0; v < vocab; ++v) {
      const double noise = std::pow(-std::log(gumbel_key.uniform(static_cast<std::uint64_t>(v))),
                                    temperature);
      const double value = std::exp(static_cast<double>(logits[v])) / noise;
      if (value > best) {
        best = value;
        c.token = v;
      }
    }
  }
  double max_logit = -INFINITY;
  for (std::int64_t v = 0; v < vocab; ++v) max_logit = std::max(max_logit, double(logits[v]));
  double sum = 0.0;
  for (std::int64_t v = 0; v < vocab; ++v) sum += std::exp(double(logits[v]) - max_logit);
  c.score = std::exp(double(logits[c.token]) - max_logit) / sum;
  return c;
}

std::vector<std::int64_t> select_top_k(const std::vector<double>& scores, std::int64_t k) {
  std::vector<std::int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  k = std::clamp<std::int64_t>(k, 0, static_cast<std::int64_t>(scores.size()));
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](std::int64_t a, std::int64_t b) {
                      const double sa = scores[static_cast<std::size_t>(a)];
                      const double sb = scores[static_cast<std::size_t>(b)];
                      return sa != sb ? sa > sb : a < b;
                    });
  order.resize(static_cast<std::size_t>(k));
  std::sort(order.begin(), order.end());
  return order;
}

}  // namespace dlm
