#include "dlm/sampler.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "checkpoint_impl.h"
#include "dlm/error.h"
#include "dlm/schedule.h"
#include "dlm/scoring.h"
#include "dlm/text_stream.h"

namespace dlm {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

std::vector<std::int64_t> encode_prompt(const Checkpoint& checkpoint, std::string_view prompt) {
  std::vector<std::int64_t> ids;
  if (checkpoint.config().add_bos) ids.push_back(checkpoint.config().bos_id);
  const auto body = checkpoint.tokenizer().encode(prompt);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

void validate(const GenerateOptions& o, const Checkpoint& checkpoint, std::int64_t prompt_tokens) {
  plan_blocks(o.max_new_tokens, o.block_length, o.steps);  // throws on a bad length
  if (!std::isfinite(o.temperature) || o.temperature < 0) {
    throw UsageError(fmt::format("--temperature {} must be a finite number >= 0; try 0 (greedy) "
                                 "or 0.8", o.temperature));
  }
  const std::int64_t limit = checkpoint.config().max_seq_len;
  if (prompt_tokens + o.max_new_tokens > limit) {
    throw UsageError(fmt::format(
        "the prompt ({} tokens) plus --max-new-tokens {} exceeds the model's maximum sequence "
        "length {}; shorten the prompt or use -n {} or less",
        prompt_tokens, o.max_new_tokens, limit, std::max<std::int64_t>(limit - prompt_tokens, 0)));
  }
}

GenerationResult generate(Checkpoint& checkpoint, const std::vector<std::int64_t>& prompt_ids,
                          const GenerateOptions& o, GenerationObserver* observer) {
  const auto t_start = Clock::now();
  const auto prompt_len = static_cast<std::int64_t>(prompt_ids.size());
  validate(o, checkpoint, prompt_len);
  auto& impl = checkpoint.impl();
  const ModelConfig& cfg = impl.config;
  const std::int64_t vocab = cfg.vocab_size;
  const std::int64_t gen_len = o.max_new_tokens;
  const auto plan = plan_blocks(gen_len, o.block_length, o.steps);

  std::vector<std::int64_t> canvas(prompt_ids);
  canvas.resize(static_cast<std::size_t>(prompt_len + gen_len), cfg.mask_id);
  std::vector<std::int64_t> generated(static_cast<std::size_t>(gen_len), cfg.mask_id);
  TextStream stream(*impl.tokenizer, cfg.eos_id, cfg.mask_id);

  GenerationResult result;
  result.prompt_token_ids = prompt_ids;
  result.seed = o.seed;
  result.load_ms = impl.load_ms;

  c10::InferenceMode guard;
  std::int64_t step = 0;
  for (const BlockPlan& block : plan) {
    const auto counts = transfer_counts(block.length, block.steps);
    for (std::int64_t s = 0; s < block.steps; ++s, ++step) {
      const std::int64_t k = counts[static_cast<std::size_t>(s)];
      if (k == 0) continue;  // a ragged block's spare step commits nothing: skip its forward
      const auto t_fwd = Clock::now();
      const auto input = torch::from_blob(canvas.data(), {1, static_cast<std::int64_t>(canvas.size())},
                                          torch::kLong).to(impl.device, /*non_blocking=*/false,
                                                            /*copy=*/true);
      const at::Tensor logits = impl.forward(input);
      // Output row predicting canvas index a (shifted logits: a - 1, Dream style).
      const auto out_row = [&](std::int64_t a) {
        return cfg.shifted_logits ? std::max<std::int64_t>(a - 1, 0) : a;
      };
      const std::int64_t lo = out_row(prompt_len + block.start);
      const std::int64_t hi = out_row(prompt_len + block.start + block.length - 1) + 1;
      const at::Tensor rows = logits[0].slice(0, lo, hi).to(torch::kCPU, torch::kFloat).contiguous();
      result.forward_ms += ms_since(t_fwd);
      ++result.nfe;

      const float* data = rows.data_ptr<float>();
      const std::int64_t width = rows.size(1);
      std::vector<double> scores(static_cast<std::size_t>(block.length), -INFINITY);
      std::vector<std::int64_t> tokens(static_cast<std::size_t>(block.length), cfg.mask_id);
      for (std::int64_t i = 0; i < block.length; ++i) {
        const std::int64_t pos = block.start + i;  // within the generated span
        if (generated[static_cast<std::size_t>(pos)] != cfg.mask_id) continue;
        const std::int64_t row = out_row(prompt_len + pos) - lo;
        const Candidate c = llada_candidate(
            data + row * width, vocab, o.temperature,
            RngKey(o.seed, static_cast<std::uint64_t>(pos), static_cast<std::uint64_t>(step),
                   RngStream::kGumbel));
        scores[static_cast<std::size_t>(i)] = c.score;
        tokens[static_cast<std::size_t>(i)] = c.token;
      }
      for (const std::int64_t i : select_top_k(scores, k)) {
        const std::int64_t pos = block.start + i;
        generated[static_cast<std::size_t>(pos)] = tokens[static_cast<std::size_t>(i)];
        canvas[static_cast<std::size_t>(prompt_len + pos)] = tokens[static_cast<std::size_t>(i)];
      }
      if (observer) {
        observer->on_step(StepEvent{step, o.steps, generated});
        const std::string text = stream.advance(generated);
        if (!text.empty()) observer->on_text(text);
      } else {
        stream.advance(generated);
      }
    }
  }
  stream.advance(generated);
  const std::string tail = stream.finish();
  if (observer && !tail.empty()) observer->on_text(tail);

  result.text = stream.text();
  result.token_ids = stream.tokens();
  result.finish_reason = stream.saw_eos() ? "stop" : "length";
  result.total_ms = result.load_ms + ms_since(t_start);
  return result;
}

}  // namespace dlm
