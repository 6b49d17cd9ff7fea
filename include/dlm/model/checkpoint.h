#pragma once
// A loaded and validated checkpoint (format v1): the TorchScript denoiser, its
// config and its tokenizer. Torch stays behind the pimpl: this header has no torch.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dlm/model/model_config.h"
#include "dlm/tokenizer/tokenizer.h"
#include "dlm/version.h"

namespace dlm {

class Denoiser;

// Torch-side settings applied once per process before loading.
struct RuntimeOptions {
  std::string device = "cpu";  // cpu, cuda, cuda:N
  // The cores dlm may use: OpenBLAS runs the GEMMs on that many threads, torch's own
  // pool stays at one. 0: auto_threads().
  int threads = 0;
  // A checkpoint is code. Without trust, Checkpoint::load refuses one whose TorchScript
  // can call file-touching operators (aten::from_file, aten::save); --trust-model.
  bool trust_model = false;
  // The parameters' dtype while running: auto (the checkpoint's own), float32, bfloat16 or
  // float16 (CUDA only). On a CPU, bfloat16 GEMMs run in oneDNN on torch's own thread pool,
  // which then gets the threads (float32 GEMMs run in OpenBLAS's).
  std::string dtype = "auto";
  // CUDA graphs for the steady-state window passes: auto (on where the run qualifies: a
  // CUDA device and the fast passes), on (an error where they cannot run), off.
  std::string cuda_graphs = "auto";
};

// --cuda-graphs: "auto", "on" or "off" (any case); throws UsageError naming the choices.
std::string parse_cuda_graphs(const std::string& value);

// The dtype a --dtype value names: "auto" (keep the checkpoint's), "float32", "bfloat16" or
// "float16" (also fp32, bf16, fp16, half; any case); throws UsageError naming the choices.
std::string parse_dtype(const std::string& name);

// Applies thread counts (OpenBLAS where it is the BLAS, else torch intra-op) and the
// trust setting for the checkpoints this process loads.
void configure_runtime(const RuntimeOptions& options);

// The cores not busy with other work when dlm starts: every core less the 1-minute load
// average (rounded), at least one. On a busy machine a second thread mostly waits for a
// descheduled peer.
int auto_threads();

// The config.json inside the checkpoint at `path`, read from the archive without loading
// the model (for checks that should come before a load); nullopt when it cannot be read
// (Checkpoint::load then says why).
std::optional<ModelConfig> read_model_config(const std::string& path);

// The tokenizer of the checkpoint at `path`, read from the archive without loading the
// model (config.json and its tokenizer file); throws UsageError as Checkpoint::load does.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

class Checkpoint {
 public:
  // Loads and validates `path`; throws UsageError naming the file and the problem
  // (missing, not TorchScript, no or bad config.json, no tokenizer, no forward,
  // special ids outside the vocabulary, logits narrower than the tokenizer). `dtype`
  // (RuntimeOptions::dtype) converts the floating-point parameters after loading; config()
  // then reports the dtype they run in.
  static std::unique_ptr<Checkpoint> load(const std::string& path, const std::string& device,
                                          const std::string& dtype = "auto");
  // The same with every setting of `runtime` (device, dtype, CUDA graphs).
  static std::unique_ptr<Checkpoint> load(const std::string& path, const RuntimeOptions& runtime);
  ~Checkpoint();

  const std::string& path() const;
  const ModelConfig& config() const;
  const Tokenizer& tokenizer() const;
  std::int64_t parameter_count() const;
  std::vector<std::string> methods() const;
  std::int64_t logits_width() const;  // V' >= tokenizer size
  std::string device() const;
  double load_ms() const;
  std::int64_t parameter_bytes() const;
  // Whether the checkpoint has the cache methods forward_kv and forward_window (probed at
  // load), and the bytes of keys + values that one canvas position takes in the cache.
  bool supports_cache() const;
  std::int64_t kv_bytes_per_token() const;
  // Estimated peak bytes of one forward call's activations for `inputs` rows of `positions`
  // (one layer's transients and its attention scores; 0 when the checkpoint has no cache
  // methods, whose probe gives the attention's shape).
  std::int64_t activation_bytes(std::int64_t inputs, std::int64_t positions) const;

  // The CUDA graphs captured so far ("N captured, X MiB held"; empty when none).
  std::string cuda_graph_summary() const;

  // The model behind the sampler's seam (see dlm/model/denoiser.h).
  Denoiser& denoiser();

  struct Impl;  // torch side, see src/model/checkpoint_impl.h
  Impl& impl() { return *impl_; }

 private:
  explicit Checkpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dlm
