#pragma once
// The denoising loop: a schedule (blocks or timesteps) decides which region is active
// and how many positions each step unmasks; a token rule proposes a candidate and a
// score per masked position; a selection rule (top-k, alg_temp sampling, threshold,
// factor, or independent reveal) commits some; final text is streamed.
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlm/checkpoint.h"
#include "dlm/result.h"
#include "dlm/sampling.h"

namespace dlm {

class Denoiser;

// Every setting of one generation, with its default (the CLI binds to these fields).
struct GenerateOptions {
  std::int64_t max_new_tokens = 128;
  std::int64_t steps = 128;
  std::int64_t block_length = 32;
  double temperature = 0.0;
  std::uint64_t seed = 0;
  Algorithm algorithm = Algorithm::kConfidence;
  Style style = Style::kLlada;
  Schedule schedule = Schedule::kBlock;
  double eps = 1e-3;                 // timestep schedule: t runs from 1 down to eps
  std::int64_t top_k = 0;            // 0: off
  double top_p = 1.0;                // 1: off
  std::optional<double> threshold;   // Fast-dLLM threshold rule
  std::optional<double> factor;      // Fast-dLLM factor rule
  double alg_temp = 0.0;             // > 0: draw positions from softmax(score / alg_temp)
  double cfg_scale = 0.0;            // > 0: LLaDA's unsupervised classifier-free guidance
  EosPolicy eos = EosPolicy::kNone;
  std::vector<std::string> stop;     // stop strings
  // Canvas layout: every forward runs on the canvas right-padded to a multiple of this
  // (padding masked out as keys, positions explicit), alone or in a batch, so that a
  // request's arithmetic, and so its tokens, never depend on what it is batched with.
  std::int64_t pad_multiple = 16;
  // Key/value cache (block schedule only): the full pass at each block boundary refreshes
  // it and is itself a denoising step; cache_refresh > 0 also runs a full pass every that
  // many model calls inside a block (1: every call, exactly the uncached result).
  CacheMode cache = CacheMode::kAuto;
  std::int64_t cache_refresh = 0;
  // Refuse a run whose estimated memory (weights, key/value cache, one forward's logits
  // and activations) exceeds this many bytes; 0: no limit.
  std::int64_t max_memory = 0;
};

// The padded length of a canvas of `length` tokens.
std::int64_t padded_length(std::int64_t length, std::int64_t pad_multiple);

// The canvas after a step, for live views.
struct StepEvent {
  std::int64_t step = 0;         // 0-based, over the whole generation
  std::int64_t total_steps = 0;  // planned steps (threshold/factor: at most this many, -n)
  const std::vector<std::int64_t>& generated;  // the generated span, mask ids where masked
};

// Receives streamed text and per-step canvases; both are optional.
class GenerationObserver {
 public:
  virtual ~GenerationObserver() = default;
  virtual void on_text(const std::string& /*text*/) {}
  virtual void on_step(const StepEvent& /*event*/) {}
};

// The cache mode a generation runs with: `auto` is dual when the checkpoint has the cache
// methods and the schedule is block, else none; explicit modes are returned as given
// (validate() rejects those that cannot run).
CacheMode resolve_cache(const GenerateOptions& options, bool checkpoint_supports_cache);

// The large allocations of a run of `rows` requests like this one: weights, the
// key/value cache, and the float32 logits of the largest forward call (as the model
// returns them and as the sampler's CPU copy).
struct MemoryEstimate {
  std::int64_t weights = 0, cache = 0, logits = 0;
  std::int64_t total() const { return weights + cache + logits; }
};
MemoryEstimate estimate_memory(const GenerateOptions& options, const Checkpoint& checkpoint,
                               std::int64_t prompt_tokens, std::int64_t rows = 1);

// "1.5 MiB" style.
std::string format_bytes(std::int64_t bytes);

// Prompt ids as fed to the model: bos (when the checkpoint asks for it) + encode(prompt).
std::vector<std::int64_t> encode_prompt(const Checkpoint& checkpoint, std::string_view prompt);

// Throws UsageError naming the option when the options are invalid, incompatible, or
// cannot run on this checkpoint with this prompt (lengths contract, max_seq_len).
void validate(const GenerateOptions& options, const Checkpoint& checkpoint,
              std::int64_t prompt_tokens);

// Runs one generation. The same options and seed give the same tokens.
GenerationResult generate(Checkpoint& checkpoint, const std::vector<std::int64_t>& prompt_ids,
                          const GenerateOptions& options, GenerationObserver* observer = nullptr);

// One request of a batch: its prompt ids, its options, an optional observer.
struct BatchRequest {
  std::vector<std::int64_t> prompt_ids;
  GenerateOptions options;
  GenerationObserver* observer = nullptr;
};

// Runs requests together: every step, the rows that need the model share one forward
// call (rows of equal padded length; others run in further calls), their logits are
// scored together on the model's device, and a row that finishes stops costing compute.
// Each result equals what generate() gives for that request alone. Requests must be
// valid (validate()); results come back in request order.
std::vector<GenerationResult> generate_batch(Checkpoint& checkpoint,
                                             const std::vector<BatchRequest>& requests);

// The same, handing each result to `on_done(request index, result)` as soon as its row
// finishes. `cancel` is read between steps: once it is true, the forward groups of the
// current step all finish (with their results' rows advanced), then the call returns and
// the unfinished rows are dropped. Returns the number of rows finished.
std::size_t generate_batch(Checkpoint& checkpoint, const std::vector<BatchRequest>& requests,
                           const std::function<void(std::size_t, GenerationResult&&)>& on_done,
                           const std::atomic<bool>* cancel = nullptr);

// The same against any denoiser and tokenizer (tests drive it with hand-made logits);
// results carry no load time.
std::size_t generate_batch(Denoiser& model, const Tokenizer& tokenizer,
                           const std::vector<BatchRequest>& requests,
                           const std::function<void(std::size_t, GenerationResult&&)>& on_done,
                           const std::atomic<bool>* cancel = nullptr);
std::vector<GenerationResult> generate_batch(Denoiser& model, const Tokenizer& tokenizer,
                                             const std::vector<BatchRequest>& requests);

}  // namespace dlm
