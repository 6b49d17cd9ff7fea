#pragma once
// CUDA kernels of dlm's operators on raw device pointers: this header and the .cu files
// need only the CUDA toolkit (no torch), and ops_cuda.cpp wraps them for ATen. Each
// launch_* enqueues its kernels on `stream` and returns the launch error, if any.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "dlm/sampling/names.h"

namespace dlm::ops::kernels {

// How the logits are stored.
enum class LogitType : int { kFloat32 = 0, kBFloat16 = 1, kFloat16 = 2 };

// dlm::score on `rows` rows of `vocab` logits (row-major, contiguous); every pointer is
// device memory. The rule's fields as in dlm::TokenRule.
struct ScoreProblem {
  const void* logits = nullptr;
  LogitType logit_type = LogitType::kFloat32;
  std::int64_t rows = 0;
  std::int64_t vocab = 0;
  const std::int64_t* seeds = nullptr;      // [rows], draw keys (bits of uint64)
  const std::int64_t* positions = nullptr;  // [rows]
  const std::int64_t* steps = nullptr;      // [rows]
  Style style = Style::kLlada;
  Algorithm algorithm = Algorithm::kConfidence;
  double temperature = 0.0;
  std::int64_t top_k = 0;
  double top_p = 1.0;
  double min_p = 0.0;
  const std::int64_t* banned = nullptr;  // [n_banned]
  std::int64_t n_banned = 0;
  const std::int64_t* deferred = nullptr;  // [n_deferred]
  std::int64_t n_deferred = 0;
  double* filtered = nullptr;      // [rows, vocab] scratch, needed when score_filters_active()
  std::int64_t* tokens = nullptr;  // [rows] out
  double* scores = nullptr;        // [rows] out
};

// Whether the top-k / top-p / min-p filters change anything (then ScoreProblem::filtered is
// needed).
inline bool score_filters_active(std::int64_t top_k, double top_p, double min_p,
                                 std::int64_t vocab) {
  return top_p < 1.0 || (top_k > 0 && top_k < vocab) || min_p > 0.0;
}

cudaError_t launch_score(const ScoreProblem& problem, cudaStream_t stream);

// dlm::commit on [rows, width] candidates (contiguous), canvas written in place through
// its strides (in elements). rule is CommitRule's value (0 top-k, 1 threshold, 2 factor).
struct CommitProblem {
  const double* scores = nullptr;
  const std::int64_t* tokens = nullptr;
  const bool* eligible = nullptr;
  std::int64_t* canvas = nullptr;
  std::int64_t canvas_row_stride = 0;
  std::int64_t canvas_col_stride = 1;
  const std::int64_t* k = nullptr;  // [rows], top-k only
  std::int64_t rows = 0;
  std::int64_t width = 0;
  int rule = 0;
  double value = 0.0;
  double* sorted = nullptr;  // [rows, width] scratch for the factor rule
  bool* chosen = nullptr;    // [rows, width] out
};

cudaError_t launch_commit(const CommitProblem& problem, cudaStream_t stream);

// dlm::cache_write: cache[l, b, h, offsets[b] + w, d] = fresh[l, b, h, w, d], both addressed
// through strides in elements; offsets (device memory) already checked to fit.
struct CacheWriteProblem {
  void* cache = nullptr;
  const void* fresh = nullptr;
  const std::int64_t* offsets = nullptr;
  std::int64_t sizes[5] = {};  // fresh's: L, B, H, W, hd
  std::int64_t cache_length = 0;  // the cache's S: rows whose window does not fit are skipped
  std::int64_t cache_strides[5] = {};
  std::int64_t fresh_strides[5] = {};
  int element_size = 4;  // bytes: 2, 4 or 8
};

cudaError_t launch_cache_write(const CacheWriteProblem& problem, cudaStream_t stream);

}  // namespace dlm::ops::kernels
