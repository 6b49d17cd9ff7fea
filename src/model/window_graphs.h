#pragma once
// CUDA graphs for the steady-state window passes (`--cuda-graphs`, README "GPU check"):
// one captured graph per shape (window [B, W], cache [L, B, H, S, hd] and dtype, head rows),
// reused across blocks and across rows of equal shape, replayed with the call's inputs
// copied into the graph's static tensors. A shape's first calls run the method itself
// (TorchScript's profiling executor optimises a method on its second call), the next one
// is captured. Built only with DLM_WITH_CUDA; elsewhere make_window_graphs returns nullptr.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace dlm {

// The arguments of the checkpoint method forward_window_update.
struct WindowInputs {
  at::Tensor window_ids, window_positions, offsets, cache_keys, cache_values, key_mask,
      row_offsets;
  std::int64_t rows = 0;
};

class WindowGraphs {
 public:
  using Method = std::function<at::Tensor(const WindowInputs&)>;
  virtual ~WindowGraphs() = default;
  // forward_window_update's result for `in` (its cache updated in place), through the
  // shape's graph once captured, else through `method`.
  virtual at::Tensor run(const WindowInputs& in, const Method& method) = 0;
  // "N captured, X MiB held" for --stats; empty when nothing was captured.
  virtual std::string summary() const = 0;
};

// `required` (--cuda-graphs on): a shape whose capture fails is an error; otherwise that
// shape runs without a graph from then on (logged). nullptr in a build without CUDA.
std::unique_ptr<WindowGraphs> make_window_graphs(bool required);

}  // namespace dlm
