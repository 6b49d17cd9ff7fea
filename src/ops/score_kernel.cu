// dlm::score on the GPU: one block per row. The formulas are propose_reference()'s
// (src/sampling/scoring.cpp) in float64 with the same draws (dlm/sampling/rng.h), and every argmax keeps its
// semantics (ties to the lowest id; a NaN at id 0 wins, as in the reference's sequential
// loop); sums are block reductions, so results match the CPU up to float64 rounding.
// The top-p and top-k filters find their cut value by bisection over the ordered float64
// values (about 64 block reductions each): slower than the unfiltered path, but exact in
// their semantics (ties at the cut resolved by id, as the reference's stable sort does).
#include <cuda_fp16.h>

#include <cstdint>

#include "dlm/sampling/rng.h"
#include "ops/kernels.h"

namespace dlm::ops::kernels {
namespace {

constexpr int kThreads = 256;

__device__ inline double infinity() { return __longlong_as_double(0x7FF0000000000000LL); }
__device__ inline bool is_nan(double x) { return x != x; }

// Block-wide reductions over all kThreads threads; every thread gets the result.
template <class T, class Op>
__device__ T block_reduce(T value, Op op) {
  __shared__ T buffer[kThreads];
  buffer[threadIdx.x] = value;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half)
      buffer[threadIdx.x] = op(buffer[threadIdx.x], buffer[threadIdx.x + half]);
    __syncthreads();
  }
  const T result = buffer[0];
  __syncthreads();
  return result;
}

struct Sum {
  __device__ double operator()(double a, double b) const { return a + b; }
  __device__ std::int64_t operator()(std::int64_t a, std::int64_t b) const { return a + b; }
};
struct Max {
  __device__ double operator()(double a, double b) const { return b > a ? b : a; }
};
struct Min {
  __device__ std::int64_t operator()(std::int64_t a, std::int64_t b) const { return b < a ? b : a; }
};

// The best (value, id): larger value, then lower id.
struct Best {
  double value;
  std::int64_t id;
};
struct Better {
  __device__ Best operator()(Best a, Best b) const {
    return (b.value > a.value || (b.value == a.value && b.id < a.id)) ? b : a;
  }
};

// The two largest values, counted with multiplicity (margin's top1 and top2).
struct TopTwo {
  double first;
  double second;
};
struct MergeTopTwo {
  __device__ TopTwo operator()(TopTwo a, TopTwo b) const {
    const double hi = b.first > a.first ? b.first : a.first;
    const double lo = b.first > a.first ? a.first : b.first;
    const double rest = b.second > a.second ? b.second : a.second;
    return {hi, rest > lo ? rest : lo};
  }
};

// Non-NaN float64 values in order as unsigned integers, and back (for bisection).
__device__ inline std::uint64_t order_key(double x) {
  const auto bits = static_cast<std::uint64_t>(__double_as_longlong(x));
  return (bits >> 63) ? ~bits : (bits | (1ULL << 63));
}
__device__ inline double from_order_key(std::uint64_t key) {
  const std::uint64_t bits = (key >> 63) ? (key & ~(1ULL << 63)) : ~key;
  return __longlong_as_double(static_cast<long long>(bits));
}

// One row of the problem: its logits as the reference reads them, its filtered values and
// its distribution.
class Row {
 public:
  __device__ Row(const ScoreProblem& p, std::int64_t row) : p_(p), row_(row) {}

  // Logit v as a double; NaN and banned ids are -inf.
  __device__ double logit(std::int64_t v) const {
    const std::int64_t i = row_ * p_.vocab + v;
    double x;
    switch (p_.logit_type) {
      case LogitType::kBFloat16:
        x = __uint_as_float(static_cast<unsigned>(static_cast<const unsigned short*>(p_.logits)[i])
                            << 16);
        break;
      case LogitType::kFloat16:
        x = __half2float(__ushort_as_half(static_cast<const unsigned short*>(p_.logits)[i]));
        break;
      default:
        x = static_cast<const float*>(p_.logits)[i];
    }
    if (is_nan(x)) return -infinity();
    for (std::int64_t b = 0; b < p_.n_banned; ++b) {
      if (p_.banned[b] == v) return -infinity();
    }
    return x;
  }
  // The temperature-scaled logit, after the filters when they are active.
  __device__ double filtered(std::int64_t v) const {
    if (p_.filtered) return p_.filtered[row_ * p_.vocab + v];
    const double l = logit(v);
    return p_.temperature > 0 ? l / p_.temperature : l;
  }
  // What the distribution is the softmax of: the logits (LLaDA) or the filtered (Dream).
  __device__ double dist_logit(std::int64_t v) const {
    return p_.style == Style::kLlada ? logit(v) : filtered(v);
  }
  __device__ double* scratch() const { return p_.filtered + row_ * p_.vocab; }

 private:
  const ScoreProblem& p_;
  std::int64_t row_;
};

// Dream's top_p_logits: keeps ids in descending order (ties by id) while the mass before
// them is <= top_p. The kept set is every value above a cut, plus the first ties at it.
__device__ void top_p_filter(const ScoreProblem& p, double* f) {
  const std::int64_t vocab = p.vocab;
  double local_max = -infinity();
  for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) local_max = Max()(local_max, f[v]);
  const double top = block_reduce(local_max, Max());
  if (!(top > -infinity() && top < infinity())) return;  // the reference's sums are NaN
  double local = 0.0;
  for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) local += exp(f[v] - top);
  const double total = block_reduce(local, Sum());
  // Probability mass strictly above x.
  auto mass_above = [&](double x) {
    double s = 0.0;
    for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) {
      if (f[v] > x) s += exp(f[v] - top);
    }
    return block_reduce(s, Sum()) / total;
  };
  double cut = top;
  std::int64_t keep_ties = 1;  // top_p < 0: only the first id survives
  if (p.top_p >= 0.0) {
    // The smallest value whose first id is kept: mass above it <= top_p.
    std::uint64_t lo = order_key(-infinity()), hi = order_key(top);
    while (lo < hi) {
      const std::uint64_t mid = lo + (hi - lo) / 2;
      if (mass_above(from_order_key(mid)) <= p.top_p) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    cut = from_order_key(lo);
    const double before = mass_above(cut);
    const double each = exp(cut - top) / total;
    const double room = each > 0.0 ? floor((p.top_p - before) / each) + 1.0 : infinity();
    keep_ties = room < static_cast<double>(vocab) ? static_cast<std::int64_t>(room) : vocab;
  }
  std::int64_t local_ties = 0;
  for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) {
    if (f[v] == cut) ++local_ties;
  }
  const std::int64_t ties = block_reduce(local_ties, Sum());
  for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) {
    if (f[v] < cut) f[v] = -infinity();
  }
  __syncthreads();
  if (ties > keep_ties && threadIdx.x == 0) {
    std::int64_t seen = 0;
    for (std::int64_t v = 0; v < vocab; ++v) {
      if (f[v] == cut && seen++ >= keep_ties) f[v] = -infinity();
    }
  }
  __syncthreads();
}

// top_k_logits: -inf below the k-th largest value (counted with multiplicity).
__device__ void top_k_filter(const ScoreProblem& p, double* f) {
  const std::int64_t vocab = p.vocab;
  double local_max = -infinity();
  for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) local_max = Max()(local_max, f[v]);
  const double top = block_reduce(local_max, Max());
  // The largest x with at least k values >= x.
  std::uint64_t lo = order_key(-infinity()), hi = order_key(top);
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo + 1) / 2;
    const double x = from_order_key(mid);
    std::int64_t count = 0;
    for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) count += f[v] >= x ? 1 : 0;
    if (block_reduce(count, Sum()) >= p.top_k) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  const double kth = from_order_key(lo);
  for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) {
    if (f[v] < kth) f[v] = -infinity();
  }
  __syncthreads();
}

// Hugging Face's MinPLogitsWarper: -inf where softmax(f)_v < min_p * max softmax(f).
__device__ void min_p_filter(const ScoreProblem& p, double* f) {
  const std::int64_t vocab = p.vocab;
  double local_max = -infinity();
  for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) local_max = Max()(local_max, f[v]);
  const double top = block_reduce(local_max, Max());
  double local_sum = 0.0;
  for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) local_sum += exp(f[v] - top);
  const double sum = block_reduce(local_sum, Sum());
  const double bound = p.min_p * (1.0 / sum);  // the largest probability is exp(0) / sum
  for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) {
    if (exp(f[v] - top) / sum < bound) f[v] = -infinity();
  }
  __syncthreads();
}

// The argmax of `value(v)` over ids with the reference's semantics: NaN values never win,
// except that a NaN at id 0 is never displaced; ties go to the lowest id.
template <class Value>
__device__ std::int64_t block_argmax(std::int64_t vocab, Value value) {
  Best best{-infinity(), 0};
  std::int64_t nan_at_zero = 0;
  for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) {
    const double x = value(v);
    if (is_nan(x)) {
      if (v == 0) nan_at_zero = 1;
      continue;
    }
    best = Better()(best, Best{x, v});
  }
  best = block_reduce(best, Better());
  return block_reduce(nan_at_zero, Sum()) > 0 ? 0 : best.id;
}

// Dream's categorical draw: the first id whose cumulative probability exceeds u * total,
// clamped to the last id, then moved back over ids of probability 0.
template <class Prob>
__device__ std::int64_t inverse_cdf(std::int64_t vocab, double u, Prob prob) {
  __shared__ double prefix[kThreads + 1];
  const std::int64_t chunk = (vocab + kThreads - 1) / kThreads;
  const std::int64_t begin = threadIdx.x * chunk;
  const std::int64_t end = begin + chunk < vocab ? begin + chunk : vocab;
  double part = 0.0;
  for (std::int64_t v = begin; v < end; ++v) part += prob(v);
  prefix[threadIdx.x] = part;
  __syncthreads();
  if (threadIdx.x == 0) {
    double running = 0.0;
    for (int i = 0; i < kThreads; ++i) {
      const double here = prefix[i];
      prefix[i] = running;
      running += here;
    }
    prefix[kThreads] = running;
  }
  __syncthreads();
  const double target = u * prefix[kThreads];
  std::int64_t found = vocab;
  double cumulative = prefix[threadIdx.x];
  for (std::int64_t v = begin; v < end; ++v) {
    cumulative += prob(v);
    if (cumulative > target) {
      found = v;
      break;
    }
  }
  std::int64_t token = block_reduce(found, Min());
  if (token > vocab - 1) token = vocab - 1;
  while (token > 0 && prob(token) == 0.0) --token;  // every thread walks the same ids
  return token;
}

__global__ void __launch_bounds__(kThreads) score_kernel(const __grid_constant__ ScoreProblem p) {
  const std::int64_t r = blockIdx.x;
  const std::int64_t vocab = p.vocab;
  const double t = p.temperature;
  const Row row(p, r);
  const auto seed = static_cast<std::uint64_t>(p.seeds[r]);
  const auto position = static_cast<std::uint64_t>(p.positions[r]);
  const auto step = static_cast<std::uint64_t>(p.steps[r]);

  if (p.filtered) {
    double* f = row.scratch();
    for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) {
      const double l = row.logit(v);
      f[v] = t > 0 ? l / t : l;
    }
    __syncthreads();
    if (p.top_p < 1.0) top_p_filter(p, f);
    if (p.top_k > 0 && p.top_k < vocab) top_k_filter(p, f);
    if (p.min_p > 0.0) min_p_filter(p, f);
  }

  // The distribution the scores (and Dream's draw) read: softmax of dist_logit.
  double local_max = -infinity();
  for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) {
    local_max = Max()(local_max, row.dist_logit(v));
  }
  const double m = block_reduce(local_max, Max());
  double local_sum = 0.0;
  for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads)
    local_sum += exp(row.dist_logit(v) - m);
  const double sum = block_reduce(local_sum, Sum());
  auto prob = [&](std::int64_t v) { return exp(row.dist_logit(v) - m) / sum; };

  std::int64_t token;
  if (p.style == Style::kLlada) {
    if (t == 0.0) {
      token = block_argmax(vocab, [&](std::int64_t v) {
        return row.filtered(v) == -infinity() ? -infinity() : row.logit(v);
      });
    } else {
      const std::uint64_t key = cell_key(seed, position, step, RngStream::kGumbel);
      token = block_argmax(vocab, [&](std::int64_t v) {
        if (row.filtered(v) == -infinity()) return -infinity();
        const double u = draw_uniform(key, static_cast<std::uint64_t>(v));
        return exp(row.logit(v)) / pow(-log(u), t);
      });
    }
  } else if (t == 0.0) {
    token = block_argmax(vocab, prob);
  } else {
    const double u = draw_uniform(cell_key(seed, position, step, RngStream::kTokenSample), 0);
    token = inverse_cdf(vocab, u, prob);
  }

  double score = 0.0;
  switch (p.algorithm) {
    case Algorithm::kMargin: {
      TopTwo local{-infinity(), -infinity()};
      for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) {
        const double x = prob(v);
        if (!is_nan(x)) local = MergeTopTwo()(local, TopTwo{x, -infinity()});
      }
      const TopTwo top = block_reduce(local, MergeTopTwo());
      score = top.first - top.second;
      break;
    }
    case Algorithm::kEntropy: {
      double local = 0.0;
      for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) {
        const double x = prob(v);
        local += x * log(x + 1e-10);
      }
      score = block_reduce(local, Sum());
      break;
    }
    case Algorithm::kRandom:
      score = draw_uniform(cell_key(seed, position, step, RngStream::kPositionScore), 0);
      break;
    default:
      score = prob(token);
  }
  if (threadIdx.x == 0) {
    for (std::int64_t i = 0; i < p.n_deferred; ++i) {
      if (p.deferred[i] == token) score = -infinity();
    }
    if (is_nan(score)) score = -infinity();
    p.tokens[r] = token;
    p.scores[r] = score;
  }
}

}  // namespace

cudaError_t launch_score(const ScoreProblem& p, cudaStream_t stream) {
  if (p.rows == 0) return cudaSuccess;
  score_kernel<<<static_cast<unsigned>(p.rows), kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace dlm::ops::kernels
