#include "model/window_graphs.h"

#ifdef DLM_WITH_CUDA
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <vector>

#include "dlm/error.h"
#endif

namespace dlm {

#ifdef DLM_WITH_CUDA
namespace {

// Eager calls of a shape before its capture: the profiling executor profiles the first
// and optimises on the second, so the third runs the graph that is captured.
constexpr int kEagerCalls = 2;

using ShapeKey = std::vector<std::int64_t>;

ShapeKey key_of(const WindowInputs& in) {
  ShapeKey key(in.window_ids.sizes().begin(), in.window_ids.sizes().end());
  key.insert(key.end(), in.cache_keys.sizes().begin(), in.cache_keys.sizes().end());
  key.push_back(in.key_mask.size(1));
  key.push_back(in.rows);
  key.push_back(static_cast<std::int64_t>(in.cache_keys.scalar_type()));
  key.push_back(in.window_ids.device().index());
  return key;
}

std::int64_t reserved_bytes(c10::DeviceIndex device) {
  return c10::cuda::CUDACachingAllocator::getDeviceStats(device).reserved_bytes[0].current;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

struct Entry {
  int calls = 0;
  bool failed = false;
  WindowInputs statics;  // the graph reads these and writes the cache among them
  at::Tensor output;     // the graph's logits, in its private memory pool
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  std::int64_t bytes = 0;
};

class CudaWindowGraphs final : public WindowGraphs {
 public:
  explicit CudaWindowGraphs(bool required) : required_(required) {}

  at::Tensor run(const WindowInputs& in, const Method& method) override {
    if (!in.window_ids.is_cuda() || broken_) return method(in);
    Entry& e = entries_[key_of(in)];
    if (e.failed || e.calls < kEagerCalls) {
      ++e.calls;
      return method(in);
    }
    if (!e.graph && !capture(e, in, method)) return method(in);
    // The cache is the caller's: copied in before the replay and back after it (the
    // method's contract is an in-place update), unless the caller already holds the
    // graph's own tensors.
    const bool own_cache = in.cache_keys.is_same(e.statics.cache_keys) &&
                           in.cache_values.is_same(e.statics.cache_values);
    e.statics.window_ids.copy_(in.window_ids, /*non_blocking=*/true);
    e.statics.window_positions.copy_(in.window_positions, true);
    e.statics.offsets.copy_(in.offsets, true);
    e.statics.key_mask.copy_(in.key_mask, true);
    e.statics.row_offsets.copy_(in.row_offsets, true);
    if (!own_cache) {
      e.statics.cache_keys.copy_(in.cache_keys, true);
      e.statics.cache_values.copy_(in.cache_values, true);
    }
    e.graph->replay();
    if (!own_cache) {
      in.cache_keys.copy_(e.statics.cache_keys, true);
      in.cache_values.copy_(e.statics.cache_values, true);
    }
    return e.output.clone();  // the next replay overwrites the graph's output
  }

  std::string summary() const override {
    std::int64_t count = 0, bytes = 0;
    for (const auto& [key, e] : entries_) {
      if (e.graph) {
        ++count;
        bytes += e.bytes;
      }
    }
    if (count == 0) return {};
    return fmt::format("{} captured, {:.1f} MiB held", count, static_cast<double>(bytes) / (1 << 20));
  }

 private:
  // Captures the window pass of `in`'s shape on a side stream into a graph whose inputs
  // are copies of `in`. False (and the shape left to eager runs) when capture fails.
  bool capture(Entry& e, const WindowInputs& in, const Method& method) {
    const c10::DeviceIndex device = in.window_ids.device().index();
    c10::cuda::CUDAGuard guard(in.window_ids.device());
    const std::int64_t before = reserved_bytes(device);
    e.statics = WindowInputs{in.window_ids.clone(), in.window_positions.clone(), in.offsets.clone(),
                             in.cache_keys.clone(), in.cache_values.clone(), in.key_mask.clone(),
                             in.row_offsets.clone(), in.rows};
    // The side stream starts after everything queued so far (the clones above).
    at::cuda::getCurrentCUDAStream().synchronize();
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
    try {
      c10::cuda::CUDAStreamGuard on_side(side);
      graph->capture_begin();
      e.output = method(e.statics);
      graph->capture_end();
    } catch (const std::exception& error) {
      // A capture that threw before capture_end leaves its stream capturing: end it, and
      // run every later window pass without graphs (the allocator's capture state of that
      // stream is not trusted again).
      cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
      if (cudaStreamIsCapturing(side.stream(), &status) == cudaSuccess &&
          status != cudaStreamCaptureStatusNone) {
        cudaGraph_t partial = nullptr;
        cudaStreamEndCapture(side.stream(), &partial);
        if (partial != nullptr) cudaGraphDestroy(partial);
        broken_ = true;
      }
      e.failed = true;
      e.statics = WindowInputs{};
      e.output = at::Tensor();
      const std::string why = first_line(error.what());
      if (required_) {
        throw Error(fmt::format("--cuda-graphs on: the window pass [{} x {}] could not be "
                                "captured in a CUDA graph ({}); run with --cuda-graphs auto "
                                "or off", in.window_ids.size(0), in.window_ids.size(1), why));
      }
      spdlog::warn("CUDA graph capture of the window pass [{} x {}] failed ({}); that shape "
                   "runs without a graph", in.window_ids.size(0), in.window_ids.size(1), why);
      return false;
    }
    e.graph = std::move(graph);
    e.bytes = reserved_bytes(device) - before;
    spdlog::debug("CUDA graph captured for the window pass [{} x {}] against a cache of {} "
                  "positions ({:.1f} MiB)", in.window_ids.size(0), in.window_ids.size(1),
                  in.cache_keys.size(3), static_cast<double>(e.bytes) / (1 << 20));
    return true;
  }

  bool required_;
  bool broken_ = false;
  std::map<ShapeKey, Entry> entries_;
};

}  // namespace

std::unique_ptr<WindowGraphs> make_window_graphs(bool required) {
  return std::make_unique<CudaWindowGraphs>(required);
}
#else
std::unique_ptr<WindowGraphs> make_window_graphs(bool) { return nullptr; }
#endif

}  // namespace dlm
