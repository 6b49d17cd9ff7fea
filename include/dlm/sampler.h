#pragma once
// The denoising loop: LLaDA's semi-autoregressive low-confidence sampler (block
// schedule, Gumbel-max candidates in float64, top-k commits), streaming final text.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dlm/checkpoint.h"
#include "dlm/result.h"

namespace dlm {

// Every setting of one generation, with its default (the CLI binds to these fields).
struct GenerateOptions {
  std::int64_t max_new_tokens = 128;
  std::int64_t steps = 128;
  std::int64_t block_length = 32;
  double temperature = 0.0;
  std::uint64_t seed = 0;
};

// The canvas after a step, for live views.
struct StepEvent {
  std::int64_t step = 0;         // 0-based, over the whole generation
  std::int64_t total_steps = 0;
  const std::vector<std::int64_t>& generated;  // the generated span, mask ids where masked
};

// Receives streamed text and per-step canvases; both are optional.
class GenerationObserver {
 public:
  virtual ~GenerationObserver() = default;
  virtual void on_text(const std::string& /*text*/) {}
  virtual void on_step(const StepEvent& /*event*/) {}
};

// Prompt ids as fed to the model: bos (when the checkpoint asks for it) + encode(prompt).
std::vector<std::int64_t> encode_prompt(const Checkpoint& checkpoint, std::string_view prompt);

// Throws UsageError when the options cannot run on this checkpoint with this prompt
// (lengths contract, temperature, model's maximum sequence length).
void validate(const GenerateOptions& options, const Checkpoint& checkpoint,
              std::int64_t prompt_tokens);

// Runs one generation. The same options and seed give the same tokens.
GenerationResult generate(Checkpoint& checkpoint, const std::vector<std::int64_t>& prompt_ids,
                          const GenerateOptions& options, GenerationObserver* observer = nullptr);

}  // namespace dlm
