#include "dlm/model/checkpoint.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <unordered_set>

#include <caffe2/serialize/inline_container.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "model/checkpoint_impl.h"
#include "model/graph_audit.h"
#include "dlm/error.h"

namespace dlm {
namespace {

c10::Device parse_device(const std::string& name) {
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(name);
  } catch (const c10::Error&) {
    throw UsageError(fmt::format("--device '{}' is not a device; use cpu, cuda or cuda:N", name));
  }
  if (device.is_cuda() && !torch::cuda::is_available()) {
    throw UsageError(fmt::format("--device {}: no CUDA device is available to this dlm (its "
                                 "libtorch is CPU-only or no GPU is present); use --device cpu",
                                 name));
  }
  if (!device.is_cpu() && !device.is_cuda()) {
    throw UsageError(fmt::format("--device '{}' is not supported; use cpu, cuda or cuda:N", name));
  }
  return device;
}

at::ScalarType scalar_type(const std::string& dtype) {
  if (dtype == "bfloat16") return at::kBFloat16;
  if (dtype == "float16") return at::kHalf;
  return at::kFloat;
}

// --dtype: every floating-point parameter and buffer converted in place (integer buffers
// kept), before any method runs.
void convert_parameters(torch::jit::Module& module, at::ScalarType type) {
  at::NoGradGuard no_grad;
  for (auto t : module.parameters()) {
    if (t.is_floating_point() && t.scalar_type() != type) t.set_data(t.to(type));
  }
  for (auto t : module.buffers()) {
    if (t.is_floating_point() && t.scalar_type() != type) t.set_data(t.to(type));
  }
}

bool starts_with_zip_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {0};
  in.read(magic, 4);
  return in.gcount() == 4 && magic[0] == 'P' && magic[1] == 'K';
}

// The reason in a torch error message, on one line. Messages carry C++ backtraces, and
// TorchScript's start with "The following operation failed in the TorchScript
// interpreter." and a Python traceback whose last "SomethingError: reason" line is the
// reason; otherwise the first line is.
std::string first_line(const std::string& what) {
  const auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  std::string reason = what.substr(0, what.find('\n'));
  std::istringstream lines(what);
  for (std::string line; std::getline(lines, line);) {
    const std::string word = line.substr(0, line.find(": "));  // "RuntimeError", "builtins.ValueError"
    if (word.size() < line.size() && word.find(' ') == std::string::npos &&
        (ends_with(word, "Error") || ends_with(word, "Exception"))) {
      reason = line;
    }
  }
  return reason;
}

// Runs a model method; its failure becomes a dlm::Error naming the method and the reason.
template <typename Call>
auto run_method(const char* method, Call&& call) -> decltype(call()) {
  try {
    return call();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(fmt::format("the model's {} failed: {}", method, first_line(e.what())));
  }
}

// A usage error unless `path` is a file that starts like a TorchScript (zip) archive.
void check_model_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw UsageError(fmt::format("model file '{}' does not exist; pass -m PATH to a dlm "
                                 "checkpoint (.pt)", path));
  }
  if (!fs::is_regular_file(path, ec)) {
    throw UsageError(fmt::format("model path '{}' is not a file; pass -m PATH to a dlm "
                                 "checkpoint (.pt)", path));
  }
  if (!starts_with_zip_magic(path)) {
    throw UsageError(fmt::format("{}: not a TorchScript archive (no zip header); export the "
                                 "model with scripts/export/export_model.py", path));
  }
}

}  // namespace

std::optional<ModelConfig> read_model_config(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec) || !starts_with_zip_magic(path)) {
    return std::nullopt;
  }
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    const std::string key = "extra/config.json";  // where torch::jit::save puts _extra_files
    if (!reader.hasRecord(key)) return std::nullopt;
    const auto [data, size] = reader.getRecord(key);
    return parse_model_config(std::string(static_cast<const char*>(data.get()), size), path);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  check_model_file(path);
  std::string config_json, tokenizer_bytes;
  ModelConfig config;
  std::string tokenizer_file;
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    const auto record = [&](const std::string& name) {
      const std::string key = "extra/" + name;  // where torch::jit::save puts _extra_files
      if (!reader.hasRecord(key)) return std::string();
      const auto [data, size] = reader.getRecord(key);
      return std::string(static_cast<const char*>(data.get()), size);
    };
    config_json = record("config.json");
    if (config_json.empty()) {
      throw UsageError(fmt::format("{}: no config.json inside the archive; export the model with "
                                   "scripts/export/export_model.py", path));
    }
    config = parse_model_config(config_json, path);
    tokenizer_file = config.tokenizer == "hf" ? "tokenizer.json" : "tokenizer.model";
    tokenizer_bytes = record(tokenizer_file);
  } catch (const UsageError&) {
    throw;
  } catch (const std::exception& e) {
    throw UsageError(fmt::format("{}: not a readable TorchScript archive ({}); the file may be "
                                 "truncated: re-export or re-download it", path, first_line(e.what())));
  }
  if (tokenizer_bytes.empty()) {
    throw UsageError(fmt::format("{}: no {} inside the archive (config.json names tokenizer "
                                 "'{}'); re-export the model", path, tokenizer_file, config.tokenizer));
  }
  auto tokenizer = make_tokenizer(config.tokenizer, tokenizer_bytes, path);
  if (tokenizer->size() != config.vocab_size) {
    throw UsageError(fmt::format("{}: config.json says vocab_size {} but the tokenizer has {} "
                                 "ids; re-export the checkpoint", path, config.vocab_size,
                                 tokenizer->size()));
  }
  return tokenizer;
}

namespace {
std::atomic<bool> trusted_models{false};  // --trust-model: skip the file-operator audit
}  // namespace

int auto_threads() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  double load = 0.0;
  if (getloadavg(&load, 1) != 1) return cores;
  return std::clamp(cores - static_cast<int>(std::lround(load)), 1, cores);
}

std::string parse_dtype(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (lower == "auto") return "auto";
  if (lower == "float32" || lower == "fp32" || lower == "f32") return "float32";
  if (lower == "bfloat16" || lower == "bf16") return "bfloat16";
  if (lower == "float16" || lower == "fp16" || lower == "f16" || lower == "half") return "float16";
  throw UsageError(fmt::format("--dtype '{}' is not a dtype; use auto, float32, bfloat16 or "
                               "float16", name));
}

std::string parse_cuda_graphs(const std::string& value) {
  std::string lower = value;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (lower == "auto" || lower == "on" || lower == "off") return lower;
  throw UsageError(fmt::format("--cuda-graphs '{}' is not a choice; use auto, on or off", value));
}

void configure_runtime(const RuntimeOptions& options) {
  trusted_models = options.trust_model;
  const int threads = options.threads > 0 ? options.threads : auto_threads();
  if (parse_dtype(options.dtype) == "bfloat16") {
    // bfloat16 GEMMs run in oneDNN on torch's intra-op pool, not in OpenBLAS.
    at::set_num_threads(threads);
    spdlog::debug("threads: {} (torch intra-op, bfloat16)", threads);
    return;
  }
  // The GEMMs get the threads (OpenBLAS's pool); torch's own intra-op pool stays at one.
  // Measured on 2 cores (scripts/bench/bench_cpu.py, README "CPU speed"): a window pass
  // with one torch thread and two OpenBLAS threads ran faster than two torch threads over
  // one OpenBLAS thread, whose second thread spins in OpenMP barriers while the GEMMs run
  // on the first; with other jobs on the cores two torch threads ran 10x slower.
  using SetThreads = void (*)(int);
  const auto set_blas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  at::set_num_threads(set_blas ? 1 : threads);
  if (set_blas) set_blas(threads);
  spdlog::debug("threads: {} ({})", threads,
                set_blas ? "OpenBLAS; torch intra-op 1" : "torch intra-op; no OpenBLAS found");
}

at::Tensor Checkpoint::Impl::forward(const at::Tensor& input_ids) {
  return module.forward({input_ids}).toTensor();
}

at::Tensor Checkpoint::Impl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                     const at::Tensor& position_ids) {
  return run_method("forward", [&] {
    return module.forward({input_ids, attention_mask, position_ids}).toTensor();
  });
}

namespace {
KvOut kv_out(const c10::IValue& value) {
  const auto t = value.toTuple();
  return {t->elements().at(0).toTensor(), t->elements().at(1).toTensor(),
          t->elements().at(2).toTensor()};
}

// Probes forward_kv and forward_window on a 2-token input: shapes, and the window pass
// agreeing with the full pass. Returns the full pass and the window pass over its position
// 1; throws UsageError.
std::pair<KvOut, KvOut> probe_cache_methods(Checkpoint::Impl& impl, const at::Tensor& probe) {
  const auto mask = torch::ones_like(probe, torch::kBool);
  const auto pos = torch::arange(probe.size(1), probe.options()).unsqueeze(0);
  const auto full = impl.forward_kv(probe, mask, pos);
  const auto& k = full.keys;
  if (k.dim() != 5 || k.size(1) != 1 || k.size(3) != 2 || !full.values.sizes().equals(k.sizes()) ||
      !full.logits.sizes().equals({1, 2, impl.logits_width_})) {
    throw UsageError(fmt::format("{}: forward_kv returned keys {} and logits {} for input [1, 2]; "
                                 "it must return logits [B, L, V] and keys/values [n_layers, B, H, "
                                 "L, head_dim]", impl.path, fmt::join(k.sizes(), "x"),
                                 fmt::join(full.logits.sizes(), "x")));
  }
  const auto offsets = torch::ones({1}, probe.options());
  const auto win = impl.forward_window(probe.slice(1, 1, 2), pos.slice(1, 1, 2), offsets, k,
                                       full.values, mask);
  if (!win.logits.sizes().equals({1, 1, impl.logits_width_}) || win.keys.size(3) != 1) {
    throw UsageError(fmt::format("{}: forward_window returned logits {} for a 1-token window; it "
                                 "must return logits [B, W, V] and keys/values [n_layers, B, H, W, "
                                 "head_dim]", impl.path, fmt::join(win.logits.sizes(), "x")));
  }
  return {full, win};
}

// Probes the fast passes on the same input against the format v1 ones: the head on row 1
// only gives row 1's logits, and the window pass leaves its keys in the cache. Throws
// UsageError when one disagrees.
void probe_fast_methods(Checkpoint::Impl& impl, const at::Tensor& probe, const KvOut& full,
                        const KvOut& win) {
  const auto mask = torch::ones_like(probe, torch::kBool);
  const auto pos = torch::arange(probe.size(1), probe.options()).unsqueeze(0);
  const OutputRows last{torch::ones({1}, probe.options()), 1};
  const auto rows = impl.forward_kv_rows(probe, mask, pos, last);
  const auto plain = impl.forward_rows(probe, mask, pos, last);
  at::Tensor keys = full.keys.clone(), values = full.values.clone();
  const auto updated = impl.forward_window_update(probe.slice(1, 1, 2), pos.slice(1, 1, 2),
                                                  last.offsets, keys, values, mask,
                                                  OutputRows{torch::zeros({1}, probe.options()), 1});
  const auto row1 = full.logits.slice(1, 1, 2);
  const bool ok = rows.logits.sizes().equals(row1.sizes()) && plain.sizes().equals(row1.sizes()) &&
                  updated.sizes().equals(win.logits.sizes()) && at::allclose(rows.logits, row1) &&
                  at::allclose(plain, row1) && at::allclose(updated, win.logits) &&
                  at::allclose(keys.slice(3, 1, 2), win.keys);
  if (!ok) {
    throw UsageError(fmt::format("{}: forward_rows / forward_kv_rows / forward_window_update "
                                 "disagree with forward_kv / forward_window on a probe input; "
                                 "re-export the checkpoint with scripts/export/export_model.py",
                                 impl.path));
  }
}
// One more call of the cached passes at a sampler's shapes (a 128-position canvas, a
// 32-position window), after the probe's: TorchScript's profiling executor profiles a
// method's first call and optimises its graph on the second, which took 50-600 ms per
// method in a sampler's first steps before this warm-up.
void warm_up(Checkpoint::Impl& impl) {
  const std::int64_t length = std::min<std::int64_t>(128, std::max<std::int64_t>(impl.config_.max_seq_len, 2));
  const std::int64_t width = std::min<std::int64_t>(32, length);
  const auto longs = torch::TensorOptions().dtype(torch::kLong).device(impl.device_);
  const auto ids = torch::full({1, length}, impl.config_.mask_id, longs);
  const auto mask = torch::ones({1, length}, longs.dtype(torch::kBool));
  const auto pos = torch::arange(length, longs).unsqueeze(0);
  const OutputRows rows{torch::zeros({1}, longs), width};
  const auto full = impl.forward_kv_rows(ids, mask, pos, rows);
  impl.forward_window_update(ids.slice(1, 0, width), pos.slice(1, 0, width), rows.offsets,
                             full.keys, full.values, mask, rows);
}
}  // namespace

KvOut Checkpoint::Impl::forward_kv(const at::Tensor& input_ids,
                                                     const at::Tensor& attention_mask,
                                                     const at::Tensor& position_ids) {
  return run_method("forward_kv", [&] {
    return kv_out(module.get_method("forward_kv")({input_ids, attention_mask, position_ids}));
  });
}

KvOut Checkpoint::Impl::forward_window(
    const at::Tensor& window_ids, const at::Tensor& window_positions, const at::Tensor& offsets,
    const at::Tensor& cache_keys, const at::Tensor& cache_values, const at::Tensor& key_mask) {
  return run_method("forward_window", [&] {
    return kv_out(module.get_method("forward_window")(
        {window_ids, window_positions, offsets, cache_keys, cache_values, key_mask}));
  });
}

at::Tensor Checkpoint::Impl::forward_rows(const at::Tensor& input_ids,
                                          const at::Tensor& attention_mask,
                                          const at::Tensor& position_ids, const OutputRows& rows) {
  return run_method("forward_rows", [&] {
    return module.get_method("forward_rows")(
        {input_ids, attention_mask, position_ids, rows.offsets, rows.count}).toTensor();
  });
}

KvOut Checkpoint::Impl::forward_kv_rows(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                        const at::Tensor& position_ids, const OutputRows& rows) {
  return run_method("forward_kv_rows", [&] {
    return kv_out(module.get_method("forward_kv_rows")(
        {input_ids, attention_mask, position_ids, rows.offsets, rows.count}));
  });
}

at::Tensor Checkpoint::Impl::forward_window_update(
    const at::Tensor& window_ids, const at::Tensor& window_positions, const at::Tensor& offsets,
    const at::Tensor& cache_keys, const at::Tensor& cache_values, const at::Tensor& key_mask,
    const OutputRows& rows) {
  const WindowGraphs::Method method = [this](const WindowInputs& in) {
    return module.get_method("forward_window_update")(
        {in.window_ids, in.window_positions, in.offsets, in.cache_keys, in.cache_values,
         in.key_mask, in.row_offsets, in.rows}).toTensor();
  };
  const WindowInputs in{window_ids, window_positions, offsets, cache_keys, cache_values, key_mask,
                        rows.offsets, rows.count};
  return run_method("forward_window_update", [&] {
    return graphs ? graphs->run(in, method) : method(in);
  });
}

Checkpoint::Checkpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<Checkpoint> Checkpoint::load(const std::string& path, const RuntimeOptions& runtime) {
  const std::string graphs = parse_cuda_graphs(runtime.cuda_graphs);
  const bool cuda = parse_device(runtime.device).is_cuda();
  if (graphs == "on" && !cuda) {
    throw UsageError(fmt::format("--cuda-graphs on needs --device cuda (this run is on {}); "
                                 "leave it at auto", runtime.device));
  }
  auto checkpoint = load(path, runtime.device, runtime.dtype);
  Impl& impl = *checkpoint->impl_;
  if (graphs == "on" && !impl.has_fast) {
    throw UsageError(fmt::format("--cuda-graphs on: {} has no forward_window_update to capture; "
                                 "re-export it with scripts/export.py, or leave --cuda-graphs at auto",
                                 path));
  }
  // After the probes and the warm-up: graphs see only the sampler's calls.
  if (graphs != "off" && cuda && impl.has_fast) impl.graphs = make_window_graphs(graphs == "on");
  return checkpoint;
}

std::string Checkpoint::cuda_graph_summary() const {
  return impl_->graphs ? impl_->graphs->summary() : std::string();
}
Checkpoint::~Checkpoint() = default;

std::unique_ptr<Checkpoint> Checkpoint::load(const std::string& path, const std::string& device,
                                             const std::string& dtype) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string run_dtype = parse_dtype(dtype);
  check_model_file(path);
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->device_ = parse_device(device);
  if (run_dtype == "float16" && !impl->device_.is_cuda()) {
    throw UsageError("--dtype float16 runs on CUDA only (a CPU has no float16 matrix "
                     "products here); use --dtype bfloat16 or float32 on a CPU");
  }

  std::unordered_map<std::string, std::string> extra{
      {"config.json", ""}, {"tokenizer.model", ""}, {"tokenizer.json", ""}};
  try {
    impl->module = torch::jit::load(path, impl->device_, extra);
  } catch (const std::exception& e) {
    throw UsageError(fmt::format("{}: not a readable TorchScript archive ({}); the file may be "
                                 "truncated: re-export or re-download it", path,
                                 first_line(e.what())));
  }
  impl->module.eval();
  // Before any of its code runs (the probes below): a checkpoint that can touch files.
  if (!trusted_models) {
    if (const auto op = find_file_operator(impl->module)) {
      throw UsageError(fmt::format("{}: its code calls {}, which can read or write files; a "
                                   "checkpoint is a program, and dlm refuses this one. If you "
                                   "trust its source, pass --trust-model", path, *op));
    }
  }
  if (extra["config.json"].empty()) {
    throw UsageError(fmt::format("{}: no config.json inside the archive; export the model with "
                                 "scripts/export/export_model.py", path));
  }
  impl->config_ = parse_model_config(extra["config.json"], path);
  if (run_dtype != "auto" && run_dtype != impl->config_.dtype) {
    convert_parameters(impl->module, scalar_type(run_dtype));
    impl->config_.dtype = run_dtype;
  }
  // The tokenizer's file follows its kind: tokenizer.model (sentencepiece) or
  // tokenizer.json (hf, Hugging Face's file as the model ships it).
  const std::string tokenizer_file =
      impl->config_.tokenizer == "hf" ? "tokenizer.json" : "tokenizer.model";
  if (extra[tokenizer_file].empty()) {
    throw UsageError(fmt::format("{}: no {} inside the archive (config.json names tokenizer "
                                 "'{}'); re-export the model", path, tokenizer_file,
                                 impl->config_.tokenizer));
  }
  impl->tokenizer = make_tokenizer(impl->config_.tokenizer, extra[tokenizer_file], path);
  const auto& cfg = impl->config_;
  if (impl->tokenizer->size() != cfg.vocab_size) {
    throw UsageError(fmt::format("{}: config.json says vocab_size {} but the tokenizer has {} "
                                 "ids; re-export the checkpoint", path, cfg.vocab_size,
                                 impl->tokenizer->size()));
  }
  if (!impl->module.find_method("forward")) {
    throw UsageError(fmt::format("{}: the module has no forward method; a dlm checkpoint needs "
                                 "forward(input_ids, attention_mask, position_ids)", path));
  }
  // Probe forward once: checks the signature and the width of the logits.
  try {
    c10::InferenceMode guard;
    const auto probe = torch::tensor({cfg.bos_id, cfg.causal ? cfg.eos_id : cfg.mask_id}, torch::kLong)
                           .unsqueeze(0).to(impl->device_);
    const auto logits = impl->forward(probe);
    if (logits.dim() != 3 || logits.size(0) != 1 || logits.size(1) != 2) {
      throw UsageError(fmt::format("{}: forward returned shape {} for input [1, 2]; it must "
                                   "return logits [B, L, V]", path,
                                   fmt::join(logits.sizes(), "x")));
    }
    impl->logits_width_ = logits.size(2);
    if (impl->module.find_method("forward_kv") && impl->module.find_method("forward_window") &&
        !cfg.causal) {
      const auto [full, win] = probe_cache_methods(*impl, probe);
      const auto& k = full.keys;
      impl->kv_bytes = 2 * k.size(0) * k.size(2) * k.size(4) * static_cast<std::int64_t>(k.element_size());
      impl->attention_heads = k.size(2);
      impl->attention_width = k.size(2) * k.size(4);
      impl->element_bytes = static_cast<std::int64_t>(k.element_size());
      impl->has_cache = true;
      if (impl->module.find_method("forward_rows") && impl->module.find_method("forward_kv_rows") &&
          impl->module.find_method("forward_window_update")) {
        probe_fast_methods(*impl, probe, full, win);
        impl->has_fast = true;
        warm_up(*impl);
      }
    }
  } catch (const UsageError&) {
    throw;
  } catch (const std::exception& e) {
    throw UsageError(fmt::format("{}: {} failed on a probe input ({}); re-export the checkpoint "
                                 "with scripts/export/export_model.py", path,
                                 impl->logits_width_ == 0 ? "forward(input_ids)" : "a cache method",
                                 first_line(e.what())));
  }
  if (impl->logits_width_ < cfg.vocab_size) {
    throw UsageError(fmt::format("{}: logits are {} wide, narrower than the tokenizer's {} ids; "
                                 "the checkpoint does not match its tokenizer", path,
                                 impl->logits_width_, cfg.vocab_size));
  }
  impl->load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return std::unique_ptr<Checkpoint>(new Checkpoint(std::move(impl)));
}

const std::string& Checkpoint::path() const { return impl_->path; }
Denoiser& Checkpoint::denoiser() { return *impl_; }
const ModelConfig& Checkpoint::config() const { return impl_->config_; }
const Tokenizer& Checkpoint::tokenizer() const { return *impl_->tokenizer; }
std::int64_t Checkpoint::logits_width() const { return impl_->logits_width_; }
std::string Checkpoint::device() const { return impl_->device_.str(); }
double Checkpoint::load_ms() const { return impl_->load_ms; }
bool Checkpoint::supports_cache() const { return impl_->has_cache; }
std::int64_t Checkpoint::kv_bytes_per_token() const { return impl_->kv_bytes; }

std::int64_t Checkpoint::activation_bytes(std::int64_t inputs, std::int64_t positions) const {
  const Impl& m = *impl_;
  // One layer's transients are live at a time: about 16 vectors of the attention width per
  // position (residual, norm, fused Q/K/V, attention output, the MLP's gate/up/product at
  // about 4x the width) and the scores with their softmax (2 x heads x L x L).
  const std::int64_t per_input =
      positions * m.attention_width * 16 + 2 * m.attention_heads * positions * positions;
  return inputs * per_input * m.element_bytes;
}

std::int64_t Checkpoint::parameter_bytes() const {
  std::int64_t n = 0;
  std::unordered_set<const void*> seen;
  for (const auto& p : impl_->module.parameters()) {
    if (seen.insert(p.data_ptr()).second) n += p.numel() * static_cast<std::int64_t>(p.element_size());
  }
  return n;
}

std::int64_t Checkpoint::parameter_count() const {
  std::int64_t n = 0;
  std::unordered_set<const void*> seen;  // tied weights are listed under both names
  for (const auto& p : impl_->module.parameters()) {
    if (seen.insert(p.data_ptr()).second) n += p.numel();
  }
  return n;
}

std::vector<std::string> Checkpoint::methods() const {
  std::vector<std::string> out;
  for (const auto& m : impl_->module.get_methods()) out.push_back(m.name());
  return out;
}

}  // namespace dlm

namespace dlm {
std::string build_info() {
  return fmt::format("dlm {} (libtorch {}, {}; commit {})", DLM_VERSION, TORCH_VERSION,
                     torch::cuda::is_available() ? "CUDA available" : "CPU", build_commit());
}
}  // namespace dlm
