#include "dlm/sampling/scoring.h"

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

// Sets excluded ids to -inf: Dream's top_p_logits, then top_k_logits, then Hugging Face's
// MinPLogitsWarper (applied after temperature, top-k and top-p there too).
void apply_filters(std::vector<double>& l, std::int64_t top_k, double top_p, double min_p) {
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
  if (min_p > 0.0) {
    const auto p = softmax(l);
    const double bound = min_p * *std::max_element(p.begin(), p.end());
    for (std::size_t v = 0; v < l.size(); ++v) {
      if (p[v] < bound) l[v] = kNegInf;
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

Candidate propose_reference(const float* logits, std::int64_t vocab, const TokenRule& rule,
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
  apply_filters(filtered, rule.top_k, rule.top_p, rule.min_p);

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

namespace {

// The unfiltered LLaDA route of propose(). It does what propose_reference() does, with the
// same floating-point operations on the same operands in the same order wherever a result
// is kept, so its results are identical; it only leaves out work whose result cannot matter.
//
// Softmax: m is the largest logit, and sum adds exp(l_v - m) in id order, as the reference
// does. NaN and banned ids, which the reference sets to -inf, add exp(-inf) = +0, and
// x + 0 == x, so they are skipped. The score needs p only at a few ids: p = e / sum is
// monotone in e, so the margin's top two probabilities are the top two e divided by sum.
//
// Gumbel-max at T > 0: the reference takes the argmax (ties to the lowest id) of
// key_v = exp(l_v) / (-log u_v)^T over every id. We evaluate key_v exactly, with the same
// expression, but only for ids that might beat the best key B found so far (starting with
// the id of the largest logit); an id is skipped only when its computed key is provably
// below B. u_v = ((k_v + 0.5) / 2^53 rounded) with k_v = bits >> 11 < 2^53, so with
// j_v = 2^53 - 1 - k_v >= 1 and 2^E <= j_v / 2^53 < 2^(E+1) (E from j_v's leading zeros):
//   -log u_v >= 1 - u_v >= j_v / 2^53 >= 2^E          (log u <= u - 1; u <= (k_v + 1) / 2^53)
// so the exact key is at most exp(l_v) 2^(-E T). Skip v when
//   l_v < log B + T ln2 (E - 1)                                              (*)
// (computed in float64: an absolute error under 1e-12 for the ranges below). Then the
// exact key is below B 2^-T (1 + 1e-12), and the computed key_v differs from the exact one
// by at most ~(T + 4) ulp (exp, log, pow and the division round to within an ulp, pow
// multiplies the log's relative error by T). For T >= 1e-3, 2^-T <= 1 - 6.9e-4 leaves
// room for all of that, so the computed key_v < B: a skipped id can neither win nor tie.
// That argument needs the intermediate values to be normal floats; the route is taken
// only where they are, and otherwise returns false so that propose() runs the reference:
//  - 1e-3 <= T <= 16: the slack above, and pow(-log u, T) stays within [2^-833, 1e26]
//    (-log u lies in [2^-52, 38] because u <= 1 - 2^-52 whenever j_v >= 1);
//  - |max logit| <= 700 and B finite and >= 1e-50: exp of the best logit is normal, and
//    an id whose exp(l_v) is subnormal or 0 has key_v <= 2^-1022 / 2^-833 < 1e-50 <= B;
//  - j_v >= 1 for every id: j_v = 0 (probability 2^-53) makes u_v = 1 and the reference's
//    key +inf, -inf or NaN (exp(l) / pow(-0, T)), whose argmax the reference loop settles;
//  - at least one id with a logit above -inf (otherwise the reference returns id 0).
// Without NaN keys the reference argmax is the lexicographic maximum of (key, -id), which
// is what the loop below keeps; once B is +inf, no later (higher) id can beat it.
constexpr double kMinTemperature = 1e-3;
constexpr double kMaxTemperature = 16.0;
constexpr double kMaxAbsLogit = 700.0;
constexpr double kMinKey = 1e-50;

bool filters_active(const TokenRule& rule, std::int64_t vocab) {
  return rule.top_p < 1.0 || (rule.top_k > 0 && rule.top_k < vocab) || rule.min_p > 0.0;
}

// The runs of [0, vocab) free of banned ids, in order, so the hot loops test nothing per id
// (and nothing is allocated without banned ids).
class AllowedRuns {
 public:
  AllowedRuns(std::int64_t vocab, const std::vector<std::int64_t>& banned) : vocab_(vocab) {
    for (const auto id : banned) {
      if (id >= 0 && id < vocab) cuts_.push_back(id);
    }
    std::sort(cuts_.begin(), cuts_.end());
    cuts_.erase(std::unique(cuts_.begin(), cuts_.end()), cuts_.end());
  }
  bool any_banned() const { return !cuts_.empty(); }

  // Calls fn(begin, end) for every run; stops early, returning false, when fn does.
  template <class Fn>
  bool each(Fn&& fn) const {
    std::int64_t begin = 0;
    for (const auto cut : cuts_) {
      if (cut > begin && !fn(begin, cut)) return false;
      begin = cut + 1;
    }
    return begin >= vocab_ || fn(begin, vocab_);
  }

 private:
  std::int64_t vocab_;
  std::vector<std::int64_t> cuts_;  // sorted banned ids within [0, vocab)
};

// The cuts (*) by the leading zeros z of j_v (11 <= z <= 63, E = 10 - z), for B = best.
class GumbelCuts {
 public:
  explicit GumbelCuts(double temperature) : slope_(temperature * std::log(2.0)) {}
  void set(double best) {
    const double log_best = std::log(best);
    for (int z = 11; z < 64; ++z) cut_[z] = log_best + slope_ * (9 - z);
  }
  // Whether an id with logit l and draw bits `bits` provably cannot reach B. The caller
  // has ruled out j = 0 (u = 1) first.
  bool skip(double l, std::uint64_t bits) const {
    return l < cut_[__builtin_clzll(kLastDraw - (bits >> 11))];
  }
  static constexpr std::uint64_t kLastDraw = (1ULL << 53) - 1;  // k = 2^53 - 1: u = 1

 private:
  double slope_;
  double cut_[64] = {};
};

bool propose_llada_unfiltered(const float* logits, std::int64_t vocab, const TokenRule& rule,
                              const DrawKey& key, Candidate& out) {
  const double t = rule.temperature;
  const bool gumbel = t != 0.0;
  if (vocab < 1) return false;
  if (gumbel && !(t >= kMinTemperature && t <= kMaxTemperature)) return false;  // NaN too
  const AllowedRuns runs(vocab, rule.banned);

  // Pass 1: the largest logit and its first id (the T = 0 token).
  float max_logit = -INFINITY;
  std::int64_t arg = -1;
  bool any_nan = false;
  runs.each([&](std::int64_t a, std::int64_t b) {
    for (std::int64_t v = a; v < b; ++v) {
      const float x = logits[v];
      if (x > max_logit) {
        max_logit = x;
        arg = v;
      } else if (x != x) {
        any_nan = true;
      }
    }
    return true;
  });
  if (arg < 0 || std::isinf(max_logit)) return false;
  const double m = max_logit;
  if (gumbel && std::fabs(m) > kMaxAbsLogit) return false;

  // The best Gumbel key so far and its cuts (*).
  const RngKey gumbel_key(key.seed, key.position, key.step, RngStream::kGumbel);
  std::int64_t best_id = arg;
  double best = 0.0;
  GumbelCuts cuts(t);
  bool searching = gumbel;
  if (gumbel) {
    const double u = gumbel_key.uniform(static_cast<std::uint64_t>(arg));
    best = std::exp(m) / std::pow(-std::log(u), t);
    if (!(best >= kMinKey && best < INFINITY)) return false;
    cuts.set(best);
  }

  // Pass 2: the softmax sum, the top two exp(l - m) for the margin, the Gumbel search.
  // The random rule's score reads no probability: no sum then.
  const bool margin = rule.algorithm == Algorithm::kMargin;
  const bool need_sum = rule.algorithm != Algorithm::kRandom;
  double sum = 0.0;
  // NaN and banned ids have p = 0, which counts among the reference's top two too.
  double top1 = (any_nan || runs.any_banned()) ? 0.0 : -INFINITY;
  double top2 = -INFINITY;
  const bool complete = runs.each([&](std::int64_t a, std::int64_t b) {
    for (std::int64_t v = a; v < b; ++v) {
      const float x = logits[v];
      if (x != x) continue;
      const double l = x;
      if (need_sum) {
        const double e = std::exp(l - m);
        sum += e;
        if (margin) {
          if (e > top1) {
            top2 = top1;
            top1 = e;
          } else if (e > top2) {
            top2 = e;
          }
        }
      }
      if (!searching) continue;
      const std::uint64_t bits = gumbel_key.bits(static_cast<std::uint64_t>(v));
      if ((bits >> 11) == GumbelCuts::kLastDraw) return false;
      if (cuts.skip(l, bits)) continue;
      const double u = gumbel_key.uniform(static_cast<std::uint64_t>(v));
      const double k = std::exp(l) / std::pow(-std::log(u), t);
      if (k > best || (k == best && v < best_id)) {
        best = k;
        best_id = v;
        if (best == INFINITY) {
          searching = false;
        } else {
          cuts.set(best);
        }
      }
    }
    return true;
  });
  if (!complete) return false;

  out.token = best_id;
  if (contains(rule.deferred, out.token)) {
    out.score = kNegInf;
    return true;
  }
  switch (rule.algorithm) {
    case Algorithm::kMargin:
      out.score = top1 / sum - top2 / sum;
      break;
    case Algorithm::kEntropy: {
      // Pass 3: the reference's sum of p log(p + 1e-10) over ids in order; skipped ids
      // have p = 0 and add -0.
      double entropy = 0.0;
      runs.each([&](std::int64_t a, std::int64_t b) {
        for (std::int64_t v = a; v < b; ++v) {
          const float x = logits[v];
          if (x != x) continue;
          const double p = std::exp(double(x) - m) / sum;
          entropy += p * std::log(p + 1e-10);
        }
        return true;
      });
      out.score = entropy;
      break;
    }
    case Algorithm::kRandom:
      out.score = RngKey(key.seed, key.position, key.step, RngStream::kPositionScore).uniform(0);
      break;
    default:
      out.score = std::exp(double(logits[out.token]) - m) / sum;
  }
  if (std::isnan(out.score)) out.score = kNegInf;
  return true;
}

}  // namespace

Candidate propose(const float* logits, std::int64_t vocab, const TokenRule& rule,
                  const DrawKey& key) {
  Candidate c;
  if (rule.style == Style::kLlada && !filters_active(rule, vocab) &&
      propose_llada_unfiltered(logits, vocab, rule, key, c)) {
    return c;
  }
  return propose_reference(logits, vocab, rule, key);
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

std::vector<std::int64_t> select_entropy_bounded(const std::vector<double>& scores,
                                                 const std::vector<double>& entropies,
                                                 double gamma) {
  const auto order = ranked(scores);
  std::vector<std::int64_t> out;
  double sum = 0.0, largest = 0.0;
  for (const std::int64_t i : order) {
    const double h = entropies[static_cast<std::size_t>(i)];
    sum += h;
    largest = std::max(largest, h);
    if (!out.empty() && sum - largest > gamma) break;
    out.push_back(i);
  }
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
