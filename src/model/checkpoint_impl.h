#pragma once
// Torch side of dlm::Checkpoint, for the library's own torch translation units.
#include <torch/script.h>

#include "dlm/model/checkpoint.h"
#include "dlm/model/denoiser.h"
#include "model/window_graphs.h"

namespace dlm {

// The TorchScript module behind the Denoiser interface.
struct Checkpoint::Impl final : Denoiser {
  std::string path;
  torch::jit::Module module;
  c10::Device device_{c10::kCPU};
  ModelConfig config_;
  std::unique_ptr<Tokenizer> tokenizer;
  std::int64_t logits_width_ = 0;
  double load_ms = 0.0;
  // Key/value cache support: both methods present and probed at load.
  bool has_cache = false;
  std::int64_t kv_bytes = 0;  // keys + values of every layer for one position
  // The attention's shape, read from the probe's keys (0 without the cache methods): heads
  // and heads x head_dim, with the element size, for the activation estimate.
  std::int64_t attention_heads = 0, attention_width = 0, element_bytes = 4;
  // The fast passes: forward_rows, forward_kv_rows, forward_window_update present and probed.
  bool has_fast = false;
  // --cuda-graphs: the window passes' graphs (null: no graphs, always on a CPU).
  std::unique_ptr<WindowGraphs> graphs;

  const ModelConfig& config() const override { return config_; }
  c10::Device device() const override { return device_; }
  std::int64_t logits_width() const override { return logits_width_; }
  bool supports_cache() const override { return has_cache; }
  std::int64_t kv_bytes_per_token() const override { return kv_bytes; }
  bool supports_fast_passes() const override { return has_fast; }

  // forward(input_ids [B, L]) -> logits [B, L, V'] on the checkpoint's device (causal
  // judges have only this form).
  at::Tensor forward(const at::Tensor& input_ids);
  // The same with attention_mask [B, L] (bool, true = real token) and position_ids [B, L].
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& position_ids) override;

  // The cache methods (README "Checkpoint format v1"): the full pass returns logits and
  // every layer's keys/values [n_layers, B, H, L, hd]; the window pass runs window_ids
  // [B, W] at window_positions against the cache, whose entries at offsets[b].. the
  // window's fresh keys/values replace, and returns the window's logits and fresh K/V.
  KvOut forward_kv(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                   const at::Tensor& position_ids) override;
  KvOut forward_window(const at::Tensor& window_ids, const at::Tensor& window_positions,
                       const at::Tensor& offsets, const at::Tensor& cache_keys,
                       const at::Tensor& cache_values, const at::Tensor& key_mask) override;
  at::Tensor forward_rows(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                          const at::Tensor& position_ids, const OutputRows& rows) override;
  KvOut forward_kv_rows(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                        const at::Tensor& position_ids, const OutputRows& rows) override;
  at::Tensor forward_window_update(const at::Tensor& window_ids, const at::Tensor& window_positions,
                                   const at::Tensor& offsets, const at::Tensor& cache_keys,
                                   const at::Tensor& cache_values, const at::Tensor& key_mask,
                                   const OutputRows& rows) override;
};

}  // namespace dlm
