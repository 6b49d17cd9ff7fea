#pragma once
// dlm's own operators, registered with TORCH_LIBRARY under the namespace `dlm`
// (dlm::score, dlm::commit, dlm::cache_write) and used by the sampler. Each has a CPU
// implementation (the reference) and, when dlm is built with a CUDA libtorch, a CUDA one.
// These functions call the operators through the dispatcher, so a tensor's device picks
// the implementation.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <tuple>

#include "dlm/sampling/scoring.h"

namespace dlm::ops {

// Candidates and scores of N masked positions in one call.
//  logits    [N, V] float32, bfloat16 or float16: row i predicts position i.
//  seeds, positions, steps  [N] int64: the draw key of row i (seed bits as int64), so that
//            a row's draws never depend on its place in the batch.
// Returns tokens [N] int64 and scores [N] float64, exactly what propose() gives row by row
// (on the CPU bit for bit; CUDA picks the same tokens up to float64 rounding of exp/log).
std::tuple<at::Tensor, at::Tensor> score(const at::Tensor& logits, const at::Tensor& seeds,
                                         const at::Tensor& positions, const at::Tensor& steps,
                                         const TokenRule& rule);

// How commit() chooses positions in each row.
enum class CommitRule : std::int64_t { kTopK = 0, kThreshold = 1, kFactor = 2 };

// Chooses positions of each row and writes their tokens.
//  scores     [B, W] float64 and tokens [B, W] int64: candidates of every window slot;
//  eligible   [B, W] bool: slots that may commit (masked positions of the active region);
//  canvas     [B, W] int64, written in place: chosen slots get their token;
//  k          [B] int64: per-row count for kTopK (ignored otherwise);
//  value      the threshold (kThreshold) or the factor (kFactor).
// Per row, over the eligible slots only, with the semantics of select_top_k (ties to the
// lowest slot), select_threshold and select_factor. Returns the chosen slots [B, W] bool.
at::Tensor commit(const at::Tensor& scores, const at::Tensor& tokens, const at::Tensor& eligible,
                  at::Tensor& canvas, const at::Tensor& k, CommitRule rule, double value);

// Writes fresh keys or values into a cache at per-row offsets:
//  cache [n_layers, B, H, S, hd] (written in place), fresh [n_layers, B, H, W, hd],
//  offsets [B] int64: cache[:, b, :, offsets[b] : offsets[b] + W] = fresh[:, b].
// Throws dlm::Error when a window does not fit in the cache.
void cache_write(at::Tensor& cache, const at::Tensor& fresh, const at::Tensor& offsets);

}  // namespace dlm::ops
