#pragma once
// The project's counter-based random generator. Every draw is a pure function of
// (seed, position within the generated span, step, stream, index): no state, no
// dependence on batch rows or call order. Its bit-exact Python twin is scripts/dlm_rng.py.
#include <cstdint>

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
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// The key of one (seed, position, step, stream) cell; draws inside it are indexed.
class RngKey {
 public:
  RngKey(std::uint64_t seed, std::uint64_t position, std::uint64_t step, RngStream stream);

  // 64 random bits for draw `index` of this cell.
  std::uint64_t bits(std::uint64_t index) const {
    return mix64(key_ + (index + 1) * 0x9E3779B97F4A7C15ULL);
  }
  // Uniform in the open interval (0, 1), 53 bits: ((bits >> 11) + 0.5) / 2^53.
  double uniform(std::uint64_t index) const {
    return (static_cast<double>(bits(index) >> 11) + 0.5) * 0x1.0p-53;
  }
  std::uint64_t key() const { return key_; }

 private:
  std::uint64_t key_;
};

}  // namespace dlm
