#include "dlm/sampling/rng.h"

namespace dlm {

RngKey::RngKey(std::uint64_t seed, std::uint64_t position, std::uint64_t step, RngStream stream)
    : key_(cell_key(seed, position, step, stream)) {}

}  // namespace dlm
