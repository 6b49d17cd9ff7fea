// dlm::cache_write on the GPU: one thread per element of `fresh` (grid-stride), copying
// the element's bytes; the dtype only matters through its size.
#include <cstdint>

#include "ops/kernels.h"

namespace dlm::ops::kernels {
namespace {

template <class Word>
__global__ void cache_write_kernel(const __grid_constant__ CacheWriteProblem p) {
  const std::int64_t total = p.sizes[0] * p.sizes[1] * p.sizes[2] * p.sizes[3] * p.sizes[4];
  auto* cache = static_cast<Word*>(p.cache);
  const auto* fresh = static_cast<const Word*>(p.fresh);
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    std::int64_t rest = i;
    std::int64_t index[5];
    for (int d = 4; d >= 0; --d) {
      index[d] = rest % p.sizes[d];
      rest /= p.sizes[d];
    }
    const std::int64_t offset = p.offsets[index[1]];
    if (offset < 0 || offset + p.sizes[3] > p.cache_length) continue;  // never out of bounds
    std::int64_t from = 0, to = 0;
    for (int d = 0; d < 5; ++d) {
      from += index[d] * p.fresh_strides[d];
      to += (d == 3 ? index[d] + offset : index[d]) * p.cache_strides[d];
    }
    cache[to] = fresh[from];
  }
}

}  // namespace

cudaError_t launch_cache_write(const CacheWriteProblem& p, cudaStream_t stream) {
  const std::int64_t total = p.sizes[0] * p.sizes[1] * p.sizes[2] * p.sizes[3] * p.sizes[4];
  if (total == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  const std::int64_t wanted = (total + kThreads - 1) / kThreads;
  const unsigned blocks = static_cast<unsigned>(wanted < 65535 ? wanted : 65535);
  switch (p.element_size) {
    case 2:
      cache_write_kernel<std::uint16_t><<<blocks, kThreads, 0, stream>>>(p);
      break;
    case 4:
      cache_write_kernel<std::uint32_t><<<blocks, kThreads, 0, stream>>>(p);
      break;
    case 8:
      cache_write_kernel<std::uint64_t><<<blocks, kThreads, 0, stream>>>(p);
      break;
    default:
      return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace dlm::ops::kernels
