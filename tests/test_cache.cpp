// The key/value cache (prefix and dual, Fast-dLLM): the checkpoint's cache methods agree
// with its plain forward, a full pass at every call reproduces uncached generation, the
// refresh step of each block is an uncached step, several rows of different prompt
// lengths run at once with per-row offsets, and the options are validated.
// torch first: its logging header defines CHECK, which Catch's must replace.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <dlfcn.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "model/checkpoint_impl.h"
#include "dlm/model/checkpoint.h"
#include "dlm/sampling/sampler.h"
#include "test_support.h"

using dlm::CacheMode;
using dlm::GenerateOptions;
using Ids = std::vector<std::int64_t>;

namespace {

using dlm_test::load_once;

dlm::Checkpoint& model() { return load_once(dlm_test::shipped_model_path()); }
dlm::Checkpoint& shifted() {
  return load_once(std::string(DLM_SOURCE_DIR) + "/tests/data/shifted-tiny.pt");
}
// shifted-tiny.pt as first exported: format v1 methods only (no fast passes).
dlm::Checkpoint& v1_shifted() {
  return load_once(std::string(DLM_SOURCE_DIR) + "/tests/data/v1-shifted-tiny.pt");
}
dlm::Checkpoint& no_cache() {
  return load_once(std::string(DLM_SOURCE_DIR) + "/tests/data/no-cache-tiny.pt");
}

GenerateOptions options(CacheMode cache, std::int64_t n = 32, std::int64_t steps = 32,
                        std::int64_t block = 8, double temperature = 0.0) {
  GenerateOptions o;
  o.max_new_tokens = n;
  o.steps = steps;
  o.block_length = block;
  o.temperature = temperature;
  o.seed = 7;
  o.cache = cache;
  o.eos = dlm::EosPolicy::kNone;  // every step runs: cached and uncached calls are compared
  return o;
}

dlm::GenerationResult run(dlm::Checkpoint& ckpt, const std::string& prompt, const GenerateOptions& o) {
  return dlm::generate(ckpt, dlm::encode_prompt(ckpt, prompt), o);
}

using dlm_test::LastCanvas;

Ids span(dlm::Checkpoint& ckpt, const std::string& prompt, const GenerateOptions& o) {
  LastCanvas last;
  dlm::generate(ckpt, dlm::encode_prompt(ckpt, prompt), o, &last);
  return last.generated;
}

double agreement(const Ids& a, const Ids& b) {
  std::size_t same = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) same += a[i] == b[i];
  return static_cast<double>(same) / static_cast<double>(std::max(a.size(), b.size()));
}

// Variations over rule, style and parallel decoding, applied to base options.
std::vector<std::pair<std::string, GenerateOptions>> variations(const GenerateOptions& base) {
  std::vector<std::pair<std::string, GenerateOptions>> out;
  const auto add = [&](const std::string& name, auto&& edit) {
    GenerateOptions o = base;
    edit(o);
    out.emplace_back(name, o);
  };
  add("confidence", [](GenerateOptions&) {});
  add("margin", [](GenerateOptions& o) { o.algorithm = dlm::Algorithm::kMargin; });
  add("entropy", [](GenerateOptions& o) { o.algorithm = dlm::Algorithm::kEntropy; });
  add("random T=0.9", [](GenerateOptions& o) {
    o.algorithm = dlm::Algorithm::kRandom;
    o.temperature = 0.9;
  });
  add("dream T=0.8 top-p", [](GenerateOptions& o) {
    o.style = dlm::Style::kDream;
    o.temperature = 0.8;
    o.top_p = 0.9;
  });
  add("threshold", [](GenerateOptions& o) { o.threshold = 0.3; });
  add("factor", [](GenerateOptions& o) { o.factor = 1.0; });
  add("cfg", [](GenerateOptions& o) { o.cfg_scale = 1.0; });
  add("alg-temp", [](GenerateOptions& o) { o.alg_temp = 0.5; });
  return out;
}

}  // namespace

TEST_CASE("forward_kv gives forward's logits; a window pass agrees with the full pass", "[cache]") {
  auto& impl = model().impl();
  c10::InferenceMode guard;
  const std::int64_t length = 40, padded = 48;
  auto ids = torch::randint(5, 4096, {2, padded}, torch::kLong);
  auto mask = torch::zeros({2, padded}, torch::kBool);
  mask.slice(1, 0, length).fill_(true);
  mask[1].slice(0, 30).fill_(false);  // row 1 is 30 tokens long
  const auto pos = torch::arange(padded, torch::kLong).unsqueeze(0).expand({2, padded}).contiguous();
  const auto plain = impl.forward(ids, mask, pos);
  const auto full = impl.forward_kv(ids, mask, pos);
  CHECK(torch::equal(plain, full.logits));
  REQUIRE(full.keys.dim() == 5);
  CHECK(full.keys.size(1) == 2);
  CHECK(full.keys.size(3) == padded);
  CHECK(full.keys.size(0) * full.keys.size(2) * full.keys.size(4) * 4 * 2 ==
        model().kv_bytes_per_token());

  // Windows at different offsets per row, with their true positions: on a cache that is
  // current, the window's logits and keys are the full pass's (up to float rounding).
  const std::int64_t width = 8;
  const auto offsets = torch::tensor({20, 12}, torch::kLong);
  auto window = torch::stack({ids[0].slice(0, 20, 28), ids[1].slice(0, 12, 20)});
  auto window_pos = torch::stack({pos[0].slice(0, 20, 28), pos[1].slice(0, 12, 20)});
  const auto keys_before = full.keys.clone();
  const auto win = impl.forward_window(window, window_pos, offsets, full.keys, full.values, mask);
  CHECK(torch::equal(keys_before, full.keys));  // the inputs are not modified
  REQUIRE(win.logits.sizes() == torch::IntArrayRef({2, width, model().logits_width()}));
  CHECK(win.logits[0].sub(full.logits[0].slice(0, 20, 28)).abs().max().item<float>() < 1e-4);
  CHECK(win.logits[1].sub(full.logits[1].slice(0, 12, 20)).abs().max().item<float>() < 1e-4);
  CHECK(win.keys.select(1, 1).sub(full.keys.select(1, 1).slice(2, 12, 20)).abs().max().item<float>() <
        1e-4);
  // Wrong positions change the result: rotary embeddings see them.
  const auto shifted_pos = window_pos + 5;
  const auto wrong = impl.forward_window(window, shifted_pos, offsets, full.keys, full.values, mask);
  CHECK(wrong.logits[0].sub(full.logits[0].slice(0, 20, 28)).abs().max().item<float>() > 1e-3);
}

TEST_CASE("--cache-refresh 1 reproduces uncached generation exactly", "[cache]") {
  for (const CacheMode mode : {CacheMode::kDual, CacheMode::kPrefix}) {
    GenerateOptions cached = options(mode, 24, 24, 8);
    cached.cache_refresh = 1;
    for (const auto& [name, o] : variations(cached)) {
      INFO(dlm::to_string(mode) << " " << name);
      GenerateOptions uncached = o;
      uncached.cache = CacheMode::kNone;
      const auto a = run(model(), "And God said", o);
      const auto b = run(model(), "And God said", uncached);
      CHECK(a.token_ids == b.token_ids);
      CHECK(a.nfe == b.nfe);
      CHECK(a.cache == dlm::to_string(mode));
      CHECK(b.cache == "none");
    }
  }
}

TEST_CASE("the refresh step of each block is an uncached step", "[cache]") {
  // One step per block: every model call is a block's refresh step, so the cached run
  // must equal the uncached one, at temperature 0 and above.
  for (const double temperature : {0.0, 0.9}) {
    for (const CacheMode mode : {CacheMode::kDual, CacheMode::kPrefix}) {
      INFO(dlm::to_string(mode) << " T=" << temperature);
      const auto cached = options(mode, 32, 4, 8, temperature);
      const auto uncached = options(CacheMode::kNone, 32, 4, 8, temperature);
      CHECK(span(model(), "In the beginning", cached) == span(model(), "In the beginning", uncached));
    }
  }
  // Several steps per block: the first block's refresh step sees the same canvas either way,
  // so what it commits is the same; cached and uncached then diverge only where later
  // steps read stale keys.
  struct Steps : dlm::GenerationObserver {
    std::vector<Ids> canvases;
    void on_step(const dlm::StepEvent& e) override { canvases.push_back(e.generated); }
  };
  Steps cached, uncached;
  const auto prompt = dlm::encode_prompt(model(), "In the beginning");
  dlm::generate(model(), prompt, options(CacheMode::kDual, 32, 32, 8), &cached);
  dlm::generate(model(), prompt, options(CacheMode::kNone, 32, 32, 8), &uncached);
  REQUIRE(cached.canvases.size() == uncached.canvases.size());
  CHECK(cached.canvases.front() == uncached.canvases.front());
}

TEST_CASE("cached generation completes every rule; its agreement with uncached is reported", "[cache]") {
  const std::vector<std::string> prompts{"And God said", "The LORD is my shepherd;",
                                         "And Jesus answered and said unto them,", ""};
  for (const CacheMode mode : {CacheMode::kDual, CacheMode::kPrefix}) {
    double same = 0;
    for (const auto& prompt : prompts) {
      const Ids a = span(model(), prompt, options(mode, 64, 64, 16));
      const Ids b = span(model(), prompt, options(CacheMode::kNone, 64, 64, 16));
      REQUIRE(a.size() == 64);
      CHECK(std::count(a.begin(), a.end(), model().config().mask_id) == 0);
      same += agreement(a, b);
    }
    same /= static_cast<double>(prompts.size());
    WARN(dlm::to_string(mode) << " cache: " << 100 * same << "% of tokens equal to uncached "
                              << "(4 prompts, 64 tokens, block 16, T=0)");
    // Greedy decoding cascades from the first differing token, so position-wise agreement
    // understates closeness; independent texts would agree on almost no position.
    CHECK(same > 0.2);
    for (const auto& [name, o] : variations(options(mode, 16, 16, 8))) {
      INFO(dlm::to_string(mode) << " " << name);
      const Ids a = span(model(), "And God said", o);
      CHECK(std::count(a.begin(), a.end(), model().config().mask_id) == 0);
      if (o.temperature > 0) CHECK(span(model(), "And God said", o) == a);  // same seed, same tokens
    }
  }
}

TEST_CASE("several rows of different prompt lengths run cached at once", "[cache][batch]") {
  const std::vector<std::string> prompts{"In the beginning", "And the LORD said unto Moses, Speak",
                                         "Blessed", "And it came to pass, when the king heard it,"};
  for (const CacheMode mode : {CacheMode::kDual, CacheMode::kPrefix}) {
    for (const double temperature : {0.0, 0.9}) {
      INFO(dlm::to_string(mode) << " T=" << temperature);
      std::vector<dlm::BatchRequest> requests;
      std::vector<dlm::GenerationResult> alone;
      for (std::size_t i = 0; i < prompts.size(); ++i) {
        GenerateOptions o = options(mode, 32, 32, 8, temperature);
        o.seed = i;
        if (i == 3) o.threshold = 0.3;  // a row whose blocks take a different number of steps
        const auto ids = dlm::encode_prompt(model(), prompts[i]);
        requests.push_back({ids, o, nullptr});
        alone.push_back(dlm::generate(model(), ids, o));
      }
      const auto together = dlm::generate_batch(model(), requests);
      for (std::size_t i = 0; i < prompts.size(); ++i) {
        CHECK(together[i].token_ids == alone[i].token_ids);
        CHECK(together[i].nfe == alone[i].nfe);
        CHECK(together[i].cache_bytes == alone[i].cache_bytes);
      }
    }
  }
}

TEST_CASE("shifted-logits checkpoints run cached", "[cache]") {
  for (const CacheMode mode : {CacheMode::kDual, CacheMode::kPrefix}) {
    INFO(dlm::to_string(mode));
    GenerateOptions o = options(mode, 32, 32, 8);
    o.cache_refresh = 1;
    GenerateOptions uncached = o;
    uncached.cache = CacheMode::kNone;
    CHECK(span(shifted(), "And God said", o) == span(shifted(), "And God said", uncached));
    o.cache_refresh = 0;
    const Ids a = span(shifted(), "And God said", o);
    // Random weights favour the mask id itself; it is never proposed, so every position fills.
    CHECK(a.size() == 32);
    CHECK(span(shifted(), "And God said", o) == a);
    CHECK(std::count(a.begin(), a.end(), shifted().config().mask_id) == 0);
    o.threshold = 0.9;  // a block ends only when no mask is left
    const Ids t = span(shifted(), "And God said", o);
    CHECK(std::count(t.begin(), t.end(), shifted().config().mask_id) == 0);
  }
}

TEST_CASE("cache modes resolve and validate", "[cache]") {
  GenerateOptions o = options(CacheMode::kAuto);
  CHECK(dlm::resolve_cache(o, true) == CacheMode::kDual);
  CHECK(dlm::resolve_cache(o, false) == CacheMode::kNone);
  o.schedule = dlm::Schedule::kTimestep;
  CHECK(dlm::resolve_cache(o, true) == CacheMode::kNone);
  CHECK(model().supports_cache());
  CHECK_FALSE(no_cache().supports_cache());
  CHECK(run(no_cache(), "And God said", options(CacheMode::kAuto)).cache == "none");

  o.cache = CacheMode::kDual;
  dlm_test::require_usage_error([&] { dlm::validate(o, model(), 3); },
                                {"--cache dual", "--schedule block"});
  dlm_test::require_usage_error([&] { dlm::validate(options(CacheMode::kPrefix), no_cache(), 3); },
                                {"--cache prefix", "no cache methods", "--cache none"});
  GenerateOptions bad = options(CacheMode::kDual);
  bad.cache_refresh = -2;
  dlm_test::require_usage_error([&] { dlm::validate(bad, model(), 3); }, {"--cache-refresh -2"});

  // Memory: the estimate counts the cache; a limit below it is refused naming the size.
  GenerateOptions m = options(CacheMode::kDual, 256, 256, 32);
  const auto estimate = dlm::estimate_memory(m, model(), 64);
  CHECK(estimate.cache == 320 * model().kv_bytes_per_token());  // 64 + 256 tokens, padded to 16
  CHECK(estimate.weights == model().parameter_bytes());
  // Activations: one layer's transients and the attention scores of the padded canvas,
  // twice for guidance (two inputs), quadratic in the length through the scores.
  CHECK(estimate.activations == model().activation_bytes(1, 320));
  CHECK(estimate.activations > 0);
  CHECK(model().activation_bytes(2, 320) == 2 * estimate.activations);
  CHECK(model().activation_bytes(1, 640) > 2 * estimate.activations);
  CHECK(estimate.total() == estimate.weights + estimate.cache + estimate.logits + estimate.activations);
  GenerateOptions guided = m;
  guided.cfg_scale = 1.0;
  CHECK(dlm::estimate_memory(guided, model(), 64).activations == 2 * estimate.activations);
  m.cache = CacheMode::kNone;
  CHECK(dlm::estimate_memory(m, model(), 64).cache == 0);
  m.cache = CacheMode::kDual;
  m.max_memory = estimate.total() - 1;
  dlm_test::require_usage_error([&] { dlm::validate(m, model(), 64); },
                                {"needs about", std::to_string(estimate.total()) + " bytes", "activations"});
  m.max_memory = estimate.total();
  CHECK_NOTHROW(dlm::validate(m, model(), 64));
  const auto result = run(model(), "And God said", options(CacheMode::kDual, 32, 32, 8));
  const auto prompt_tokens = static_cast<std::int64_t>(dlm::encode_prompt(model(), "And God said").size());
  CHECK(result.cache_bytes ==
        dlm::padded_length(prompt_tokens + 32, 16) * model().kv_bytes_per_token());
}

TEST_CASE("fast passes: the head on chosen rows and the window written into the cache in place",
          "[cache][fast]") {
  auto& impl = model().impl();
  REQUIRE(model().denoiser().supports_fast_passes());
  CHECK_FALSE(v1_shifted().denoiser().supports_fast_passes());
  CHECK_FALSE(no_cache().denoiser().supports_fast_passes());
  c10::InferenceMode guard;
  const std::int64_t padded = 48, width = 8;
  const auto ids = torch::randint(5, 4096, {2, padded}, torch::kLong);
  auto mask = torch::ones({2, padded}, torch::kBool);
  mask[1].slice(0, 30).fill_(false);
  const auto pos = torch::arange(padded, torch::kLong).unsqueeze(0).expand({2, padded}).contiguous();
  const auto full = impl.forward_kv(ids, mask, pos);
  // Rows 20..27 of input 0 and 3..10 of input 1: the same numbers as the full head's.
  const dlm::OutputRows rows{torch::tensor({20, 3}, torch::kLong), width};
  const auto part = impl.forward_kv_rows(ids, mask, pos, rows);
  REQUIRE(part.logits.sizes() == torch::IntArrayRef({2, width, model().logits_width()}));
  CHECK(torch::equal(part.logits[0], full.logits[0].slice(0, 20, 28)));
  CHECK(torch::equal(part.logits[1], full.logits[1].slice(0, 3, 11)));
  CHECK(torch::equal(part.keys, full.keys));
  CHECK(torch::equal(impl.forward_rows(ids, mask, pos, rows), part.logits));

  // The window pass: forward_window's logits (rows 2..5 of each window) and its fresh keys
  // and values written at the window's slots, every other slot untouched.
  const auto offsets = torch::tensor({20, 12}, torch::kLong);
  const auto window = torch::stack({ids[0].slice(0, 20, 28), ids[1].slice(0, 12, 20)});
  const auto window_pos = torch::stack({pos[0].slice(0, 20, 28), pos[1].slice(0, 12, 20)});
  const auto win = impl.forward_window(window, window_pos, offsets, full.keys, full.values, mask);
  auto keys = full.keys.clone(), values = full.values.clone();
  const dlm::OutputRows window_rows{torch::tensor({2, 2}, torch::kLong), 4};
  const auto logits =
      impl.forward_window_update(window, window_pos, offsets, keys, values, mask, window_rows);
  CHECK(torch::equal(logits, win.logits.slice(1, 2, 6)));
  auto expected_keys = full.keys.clone(), expected_values = full.values.clone();
  expected_keys.select(1, 0).slice(2, 20, 28).copy_(win.keys.select(1, 0));
  expected_keys.select(1, 1).slice(2, 12, 20).copy_(win.keys.select(1, 1));
  expected_values.select(1, 0).slice(2, 20, 28).copy_(win.values.select(1, 0));
  expected_values.select(1, 1).slice(2, 12, 20).copy_(win.values.select(1, 1));
  CHECK(torch::equal(keys, expected_keys));
  CHECK(torch::equal(values, expected_values));
}

TEST_CASE("fast passes give the format v1 passes' tokens (same weights, both exports)",
          "[cache][fast]") {
  // shifted-tiny.pt is v1-shifted-tiny.pt re-exported with the fast passes: every cache mode,
  // with and without guidance and elastic drift, must commit the same tokens.
  for (const CacheMode mode : {CacheMode::kNone, CacheMode::kPrefix, CacheMode::kDual,
                               CacheMode::kElastic}) {
    for (const auto& [name, o] : variations(options(mode, 24, 24, 8))) {
      INFO(dlm::to_string(mode) << " " << name);
      CHECK(span(shifted(), "And God said", o) == span(v1_shifted(), "And God said", o));
    }
  }
}

TEST_CASE("a checkpoint's thread setting: OpenBLAS gets -t, torch's pool one thread", "[threads]") {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  CHECK(dlm::auto_threads() >= 1);
  CHECK(dlm::auto_threads() <= cores);
  using GetThreads = int (*)();
  const auto blas_threads = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  dlm::configure_runtime({"cpu", 2});
  if (blas_threads) {
    CHECK(blas_threads() == 2);
    CHECK(at::get_num_threads() == 1);
  } else {
    CHECK(at::get_num_threads() == 2);
  }
  dlm::configure_runtime({"cpu", 1});
  if (blas_threads) CHECK(blas_threads() == 1);
}
