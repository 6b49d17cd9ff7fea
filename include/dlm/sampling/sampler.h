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

#include "dlm/model/checkpoint.h"
#include "dlm/io/result.h"
#include "dlm/sampling/names.h"
#include "dlm/sampling/options.h"

namespace dlm {

class Denoiser;

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
  std::int64_t weights = 0, cache = 0, logits = 0, activations = 0;
  std::int64_t total() const { return weights + cache + logits + activations; }
  std::int64_t per_row() const { return cache + logits + activations; }  // what a batch row adds
};
MemoryEstimate estimate_memory(const GenerateOptions& options, const Checkpoint& checkpoint,
                               std::int64_t prompt_tokens, std::int64_t rows = 1);

// "1.5 MiB" style.
std::string format_bytes(std::int64_t bytes);

// Prompt ids as fed to the model: bos (when the checkpoint asks for it) + encode(prompt).
std::vector<std::int64_t> encode_prompt(const Checkpoint& checkpoint, std::string_view prompt);

// Throws UsageError when -n leaves no room for a prompt in the model's max_seq_len. The
// one check of validate() that needs only the config (read_model_config): run before
// check_options, a huge -n is named as too long for the model before steps or blocks.
void check_room(const GenerateOptions& options, const ModelConfig& config);

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
