#include "dlm/scoring.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dlm {
namespace {

constexpr double kNegInf = -INFINITY;

std::int64_t argmax(const std::vector<double>& v) {
  std::int64_t best = 0;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i] > v[static_cast<std::size_t>(best)]) best = static_cast<std::int64_t>(i);
  }
  return best;
}

// softmax with a sequential sum; -inf entries get probability 0.
std::vector<double> softmax(const std::vector<double>& l) {
  const double m = *std::max_element(l.begin(), l.end());
  std::vector<double> p(l.size());
  double sum = 0.0;
  for (std::size_t i = 0; i < l.size(); ++i) {
    p[i] = std::exp(l[i] - m);
    sum += p[i];
  }
  for (auto& x : p) x /= sum;
  return p;
}

// Sets excluded ids to -inf: Dream's top_p_logits, then top_k_logits.
void apply_filters(std::vector<double>& l, std::int64_t top_k, double top_p) {
  const auto n = static_cast<std::int64_t>(l.size());
  if (top_p < 1.0) {
    std::vector<std::int64_t> order(l.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::int64_t a, std::int64_t b) { return l[a] > l[b]; });
    std::vector<double> sorted(l.size());
    for (std::int64_t j = 0; j < n; ++j) sorted[j] = l[order[j]];
    const auto p = softmax(sorted);
    double cum = 0.0;
    std::vector<bool> remove(l.size(), false);
    for (std::int64_t j = 0; j < n; ++j) {
      cum += p[j];
      if (j + 1 < n) remove[j + 1] = cum > top_p;  // shifted right: the crossing id stays
    }
    for (std::int64_t j = 1; j < n; ++j) {
      if (remove[j]) l[order[j]] = kNegInf;
    }
  }
  if (top_k > 0 && top_k < n) {
    std::vector<double> copy(l);
    std::nth_element(copy.begin(), copy.begin() + (top_k - 1), copy.end(), std::greater<>());
    const double kth = copy[top_k - 1];
    for (auto& x : l) {
      if (x < kth) x = kNegInf;
    }
  }
}

bool contains(const std::vector<std::int64_t>& ids, std::int64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

double score_of(const std::vector<double>& p, std::int64_t token, const TokenRule& rule,
                const DrawKey& key) {
  switch (rule.algorithm) {
    case Algorithm::kMargin: {
      double top1 = kNegInf, top2 = kNegInf;
      for (const double x : p) {
        if (x > top1) {
          top2 = top1;
          top1 = x;
        } else if (x > top2) {
          top2 = x;
        }
      }
      return top1 - top2;
    }
    case Algorithm::kEntropy: {
      double sum = 0.0;
      for (const double x : p) sum += x * std::log(x + 1e-10);
      return sum;
    }
    case Algorithm::kRandom:
      return RngKey(key.seed, key.position, key.step, RngStream::kPositionScore).uniform(0);
    default:
      return p[static_cast<std::size_t>(token)];
  }
}

}  // namespace

Candidate propose(const float* logits, std::int64_t vocab, const TokenRule& rule,
                  const DrawKey& key) {
  std::vector<double> l(logits, logits + vocab);
  for (auto& x : l) {
    if (std::isnan(x)) x = kNegInf;  // a broken model's NaN never wins and never poisons sorts
  }
  for (const auto id : rule.banned) {
    if (id >= 0 && id < vocab) l[static_cast<std::size_t>(id)] = kNegInf;
  }
  const double t = rule.temperature;
  std::vector<double> filtered(l);
  if (t > 0) {
    for (auto& x : filtered) x /= t;
  }
  apply_filters(filtered, rule.top_k, rule.top_p);

  Candidate c;
  std::vector<double> dist;
  if (rule.style == Style::kLlada) {
    if (t == 0.0) {
      std::vector<double> allowed(l);  // the filters only exclude ids
      for (std::int64_t v = 0; v < vocab; ++v) {
        if (filtered[v] == kNegInf) allowed[v] = kNegInf;
      }
      c.token = argmax(allowed);
    } else {
      const RngKey gumbel(key.seed, key.position, key.step, RngStream::kGumbel);
      std::vector<double> noisy(static_cast<std::size_t>(vocab), kNegInf);
      for (std::int64_t v = 0; v < vocab; ++v) {
        if (filtered[v] == kNegInf) continue;
        noisy[v] = std::exp(l[v]) /
                   std::pow(-std::log(gumbel.uniform(static_cast<std::uint64_t>(v))), t);
      }
      c.token = argmax(noisy);
    }
    dist = softmax(l);
  } else {
    dist = softmax(filtered);
    if (t == 0.0) {
      c.token = argmax(dist);
    } else {
      const double u = RngKey(key.seed, key.position, key.step, RngStream::kTokenSample).uniform(0);
      std::vector<double> cum(dist.size());
      double sum = 0.0;
      for (std::size_t v = 0; v < dist.size(); ++v) cum[v] = sum += dist[v];
      const double target = u * cum.back();
      c.token = std::upper_bound(cum.begin(), cum.end(), target) - cum.begin();
      c.token = std::min<std::int64_t>(c.token, vocab - 1);
      while (c.token > 0 && dist[static_cast<std::size_t>(c.token)] == 0.0) --c.token;
    }
  }
  c.score = contains(rule.deferred, c.token) ? kNegInf : score_of(dist, c.token, rule, key);
  if (std::isnan(c.score)) c.score = kNegInf;
  return c;
}

Candidate llada_candidate(const float* logits, std::int64_t vocab, double temperature,
                          const RngKey& gumbel_key) {
  // Kept for callers holding a key: identical to propose() with the default rule.
  Candidate c;
  double best = kNegInf;
  for (std::int64_t v = 0; v < vocab; ++v) {
    const double value =
        temperature == 0.0
            ? double(logits[v])
            : std::exp(double(logits[v])) /
                  std::pow(-std::log(gumbel_key.uniform(static_cast<std::uint64_t>(v))),
                           temperature);
    if (value > best) {
      best = value;
      c.token = v;
    }
  }
  const auto p = softmax(std::vector<double>(logits, logits + vocab));
  c.score = p[static_cast<std::size_t>(c.token)];
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

namespace {
// All indices, best score first, ties to the lowest index.
std::vector<std::int64_t> ranked(const std::vector<double>& scores) {
  std::vector<std::int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return scores[static_cast<std::size_t>(a)] > scores[static_cast<std::size_t>(b)];
  });
  return order;
}
}  // namespace

std::vector<std::int64_t> select_threshold(const std::vector<double>& scores, double threshold) {
  std::vector<std::int64_t> out;
  const auto order = ranked(scores);
  for (std::size_t j = 0; j < order.size(); ++j) {
    if (j == 0 || scores[static_cast<std::size_t>(order[j])] >= threshold) out.push_back(order[j]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::int64_t> select_factor(const std::vector<double>& scores, double factor) {
  const auto order = ranked(scores);
  const auto m = static_cast<std::int64_t>(order.size());
  std::int64_t count = m;  // nothing fails: all commit
  for (std::int64_t j = 2; j <= m; ++j) {
    const double threshold = 1.0 - factor / static_cast<double>(j + 1);
    if (scores[static_cast<std::size_t>(order[j - 1])] < threshold) {
      count = (j == m) ? m : j - 1;
      break;
    }
  }
  std::vector<std::int64_t> out(order.begin(), order.begin() + count);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::int64_t> select_sampled(const std::vector<double>& scores,
                                         const std::vector<std::uint64_t>& positions,
                                         std::int64_t k, double alg_temp, std::uint64_t seed,
                                         std::uint64_t step) {
  std::vector<double> keys(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const double u = RngKey(seed, positions[i], step, RngStream::kSelect).uniform(0);
    keys[i] = scores[i] / alg_temp - std::log(-std::log(u));
  }
  return select_top_k(keys, k);
}

}  // namespace dlm
