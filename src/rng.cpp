#include "dlm/rng.h"

namespace dlm {

RngKey::RngKey(std::uint64_t seed, std::uint64_t position, std::uint64_t step, RngStream stream) {
  std::uint64_t h = mix64(seed ^ 0x9E3779B97F4A7C15ULL);
  h = mix64(h ^ ((position + 1) * 0xD1B54A32D192ED03ULL));
  h = mix64(h ^ ((step + 1) * 0xABC98388FB8FAC03ULL));
  h = mix64(h ^ ((static_cast<std::uint64_t>(stream) + 1) * 0x8CB92BA72F3D8DD7ULL));
  key_ = h;
}

}  // namespace dlm
