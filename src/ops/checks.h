#pragma once
// Argument checks and conversions shared by every backend of dlm's operators, so the CPU
// and CUDA implementations reject the same inputs with the same dlm::Error messages.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "dlm/ops/ops.h"
#include "dlm/sampling/scoring.h"

namespace dlm::ops::detail {

// "[3, 4]": a tensor's sizes for messages.
std::string sizes_of(const at::Tensor& t);

// The TokenRule that dlm::score's integer and float arguments encode (style and algorithm
// are the enums' values in declaration order); throws dlm::Error on an unknown value.
TokenRule token_rule(std::int64_t style, std::int64_t algorithm, double temperature,
                     std::int64_t top_k, double top_p, double min_p, at::IntArrayRef banned,
                     at::IntArrayRef deferred);

// logits [N, V] (V >= 1) float32 / bfloat16 / float16; seeds, positions, steps [N] int64;
// all on the logits' device.
void check_score(const at::Tensor& logits, const at::Tensor& seeds, const at::Tensor& positions,
                 const at::Tensor& steps);

// scores [B, W] float64, tokens [B, W] int64, eligible [B, W] bool, canvas [B, W] int64, k
// [B] int64 (kTopK only), all on one device. Returns the rule.
CommitRule check_commit(const at::Tensor& scores, const at::Tensor& tokens,
                        const at::Tensor& eligible, const at::Tensor& canvas, const at::Tensor& k,
                        std::int64_t rule);

// cache [L, B, H, S, hd] and fresh [L, B, H, W, hd] of one floating dtype on one device,
// offsets [B] int64 (on that device or the CPU) with 0 <= offsets[b] and
// offsets[b] + W <= S. Reads the offsets on the host.
void check_cache_write(const at::Tensor& cache, const at::Tensor& fresh, const at::Tensor& offsets);

}  // namespace dlm::ops::detail
