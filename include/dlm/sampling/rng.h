#pragma once
// The project's counter-based random generator. Every draw is a pure function of
// (seed, position within the generated span, step, stream, index): no state, no
// dependence on batch rows or call order. Its bit-exact Python twin is scripts/dlmpy/rng.py.
// The free functions also compile as CUDA device code, so kernels draw the same numbers.
#include <cstdint>

#if defined(__CUDACC__)
#define DLM_HOST_DEVICE __host__ __device__
#else
#define DLM_HOST_DEVICE
#endif

namespace dlm {

// Which kind of draw; part of the key so that different uses never share numbers.
enum class RngStream : std::uint64_t {
  kGumbel = 0,         // per vocabulary index: LLaDA's Gumbel-max token draw
  kPositionScore = 1,  // index 0: a position's score under the `random` rule
  kTokenSample = 2,    // index 0: a categorical token draw (inverse CDF)
  kReveal = 3,         // index 0: whether a position is revealed (Dream origin, MDLM)
  kSelect = 4,         // index 0: choosing positions with alg_temp
};

// SplitMix64's finaliser: a bijective 64-bit mixing function.
DLM_HOST_DEVICE constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// The key of one (seed, position, step, stream) cell.
DLM_HOST_DEVICE constexpr std::uint64_t cell_key(std::uint64_t seed, std::uint64_t position,
                                                 std::uint64_t step, RngStream stream) {
  std::uint64_t h = mix64(seed ^ 0x9E3779B97F4A7C15ULL);
  h = mix64(h ^ ((position + 1) * 0xD1B54A32D192ED03ULL));
  h = mix64(h ^ ((step + 1) * 0xABC98388FB8FAC03ULL));
  return mix64(h ^ ((static_cast<std::uint64_t>(stream) + 1) * 0x8CB92BA72F3D8DD7ULL));
}

// 64 random bits for draw `index` of the cell with key `key`.
DLM_HOST_DEVICE constexpr std::uint64_t draw_bits(std::uint64_t key, std::uint64_t index) {
  return mix64(key + (index + 1) * 0x9E3779B97F4A7C15ULL);
}

// Uniform in the open interval (0, 1), 53 bits: ((bits >> 11) + 0.5) / 2^53. (In float64
// the sum rounds to even above 2^52, so the largest draw, with probability 2^-53, is 1.)
DLM_HOST_DEVICE constexpr double draw_uniform(std::uint64_t key, std::uint64_t index) {
  return (static_cast<double>(draw_bits(key, index) >> 11) + 0.5) * 0x1.0p-53;
}

// The key of one (seed, position, step, stream) cell; draws inside it are indexed.
class RngKey {
 public:
  RngKey(std::uint64_t seed, std::uint64_t position, std::uint64_t step, RngStream stream);

  // 64 random bits for draw `index` of this cell.
  std::uint64_t bits(std::uint64_t index) const { return draw_bits(key_, index); }
  // Uniform in (0, 1): see draw_uniform.
  double uniform(std::uint64_t index) const { return draw_uniform(key_, index); }
  std::uint64_t key() const { return key_; }

 private:
  std::uint64_t key_;
};

}  // namespace dlm
