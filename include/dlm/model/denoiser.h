#pragma once
// The sampler's seam to the model: three forward passes over padded canvases on one device
// (checkpoint format v1). The TorchScript checkpoint implements it; tests drive the sampler
// with denoisers of hand-made logits.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>

#include "dlm/model/model_config.h"

namespace dlm {

// Logits and the keys/values of every layer, [n_layers, B, H, L, head_dim] each.
struct KvOut {
  at::Tensor logits, keys, values;
};

// The output rows a call computes: input b's rows offsets[b] .. offsets[b] + count - 1 of
// its canvas (full pass) or of its window (window pass); offsets int64 [B] on device().
struct OutputRows {
  at::Tensor offsets;
  std::int64_t count = 0;
};

// A masked denoiser. Inputs are on device(): ids and positions int64 [B, L], masks bool
// (true = a real token). Logits come back [B, L, logits_width()] in the model's dtype.
class Denoiser {
 public:
  virtual ~Denoiser() = default;

  virtual const ModelConfig& config() const = 0;
  virtual c10::Device device() const = 0;
  virtual std::int64_t logits_width() const = 0;  // V' >= the tokenizer's size
  // Whether forward_kv and forward_window exist, and the bytes of keys + values that one
  // canvas position takes in the cache.
  virtual bool supports_cache() const = 0;
  virtual std::int64_t kv_bytes_per_token() const = 0;

  // The whole canvas, no cache.
  virtual at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                             const at::Tensor& position_ids) = 0;
  // The whole canvas, returning its keys/values as a new cache.
  virtual KvOut forward_kv(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                           const at::Tensor& position_ids) = 0;
  // window_ids [B, W] at window_positions against the cache, whose entries at offsets[b]..
  // the window's fresh keys/values replace (the caller writes them back); key_mask [B, S].
  virtual KvOut forward_window(const at::Tensor& window_ids, const at::Tensor& window_positions,
                               const at::Tensor& offsets, const at::Tensor& cache_keys,
                               const at::Tensor& cache_values, const at::Tensor& key_mask) = 0;

  // The fast passes (checkpoint methods forward_rows, forward_kv_rows and
  // forward_window_update): the output head runs on `rows` only (logits [B, rows.count,
  // V']), and the window pass writes its fresh keys/values into the cache in place instead
  // of returning them. Without them the sampler runs the passes above and selects the rows
  // and writes the cache itself (the same numbers, more work).
  virtual bool supports_fast_passes() const { return false; }
  virtual at::Tensor forward_rows(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                  const at::Tensor& position_ids, const OutputRows& rows);
  // Logits of `rows`, keys/values of every position.
  virtual KvOut forward_kv_rows(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                const at::Tensor& position_ids, const OutputRows& rows);
  // forward_window's arithmetic; the cache's slots offsets[b].. receive the window's fresh
  // keys/values of every layer. Returns the logits of `rows` (of the window).
  virtual at::Tensor forward_window_update(const at::Tensor& window_ids,
                                           const at::Tensor& window_positions,
                                           const at::Tensor& offsets, const at::Tensor& cache_keys,
                                           const at::Tensor& cache_values,
                                           const at::Tensor& key_mask, const OutputRows& rows);
};

}  // namespace dlm
