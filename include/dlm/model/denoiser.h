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
};

}  // namespace dlm
