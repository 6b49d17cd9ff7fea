// dlm::commit on the GPU: one block per row. A slot's rank among the row's eligible slots
// (higher score first, ties to the lower slot) decides every rule, as the stable orders of
// select_top_k, select_threshold and select_factor do on the CPU.
#include <cstdint>

#include "ops/kernels.h"

namespace dlm::ops::kernels {
namespace {

constexpr int kThreads = 128;

__device__ std::int64_t rank_of(const double* score, const bool* eligible, std::int64_t width,
                                std::int64_t j) {
  std::int64_t rank = 0;
  for (std::int64_t i = 0; i < width; ++i) {
    if (eligible[i] && (score[i] > score[j] || (score[i] == score[j] && i < j))) ++rank;
  }
  return rank;
}

__global__ void __launch_bounds__(kThreads) commit_kernel(const __grid_constant__ CommitProblem p) {
  const std::int64_t row = blockIdx.x;
  const std::int64_t width = p.width;
  const double* score = p.scores + row * width;
  const bool* eligible = p.eligible + row * width;
  __shared__ std::int64_t factor_count;
  if (p.rule == 2) {
    // Factor: the scores in rank order, then the first failing j as select_factor finds it.
    double* sorted = p.sorted + row * width;
    for (std::int64_t j = threadIdx.x; j < width; j += blockDim.x) {
      if (eligible[j]) sorted[rank_of(score, eligible, width, j)] = score[j];
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      std::int64_t m = 0;
      for (std::int64_t j = 0; j < width; ++j) m += eligible[j] ? 1 : 0;
      std::int64_t count = m;
      for (std::int64_t j = 2; j <= m; ++j) {
        if (sorted[j - 1] < 1.0 - p.value / static_cast<double>(j + 1)) {
          count = j == m ? m : j - 1;
          break;
        }
      }
      factor_count = count;
    }
    __syncthreads();
  }
  for (std::int64_t j = threadIdx.x; j < width; j += blockDim.x) {
    bool chosen = false;
    if (eligible[j]) {
      const std::int64_t rank = rank_of(score, eligible, width, j);
      switch (p.rule) {
        case 0:
          chosen = rank < p.k[row];
          break;
        case 1:
          chosen = rank == 0 || score[j] >= p.value;
          break;
        default:
          chosen = rank < factor_count;
      }
    }
    p.chosen[row * width + j] = chosen;
    if (chosen) {
      p.canvas[row * p.canvas_row_stride + j * p.canvas_col_stride] = p.tokens[row * width + j];
    }
  }
}

}  // namespace

cudaError_t launch_commit(const CommitProblem& p, cudaStream_t stream) {
  if (p.rows == 0 || p.width == 0) return cudaSuccess;
  commit_kernel<<<static_cast<unsigned>(p.rows), kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace dlm::ops::kernels
