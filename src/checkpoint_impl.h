#pragma once
// Torch side of dlm::Checkpoint, for the library's own torch translation units.
#include <torch/script.h>

#include "dlm/checkpoint.h"

namespace dlm {

struct Checkpoint::Impl {
  std::string path;
  torch::jit::Module module;
  c10::Device device{c10::kCPU};
  ModelConfig config;
  std::unique_ptr<Tokenizer> tokenizer;
  std::int64_t logits_width = 0;
  double load_ms = 0.0;

  // forward(input_ids [B, L]) -> logits [B, L, V'] on the checkpoint's device.
  at::Tensor forward(const at::Tensor& input_ids);
  // The same with attention_mask [B, L] (bool, true = real token) and position_ids [B, L].
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& position_ids);
};

}  // namespace dlm
