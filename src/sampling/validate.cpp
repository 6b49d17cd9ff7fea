// Checks of a generation's options against a checkpoint and a prompt, and the memory a
// run needs: everything that decides, before any forward call, whether a run can go.
#include <fmt/format.h>

#include <cmath>

#include "dlm/checkpoint.h"
#include "dlm/error.h"
#include "dlm/sampler.h"
#include "dlm/schedule.h"

namespace dlm {
namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw UsageError(message);
}

bool uses_parallel_rule(const GenerateOptions& o) { return o.threshold || o.factor; }

}  // namespace

MemoryEstimate estimate_memory(const GenerateOptions& o, const Checkpoint& checkpoint,
                               std::int64_t prompt_tokens, std::int64_t rows) {
  const std::int64_t inputs = rows * (o.cfg_scale > 0 ? 2 : 1);
  const std::int64_t padded = padded_length(prompt_tokens + o.max_new_tokens, o.pad_multiple);
  MemoryEstimate m;
  m.weights = checkpoint.parameter_bytes();
  if (resolve_cache(o, checkpoint.supports_cache()) != CacheMode::kNone) {
    m.cache = inputs * padded * checkpoint.kv_bytes_per_token();
  }
  m.logits = 2 * inputs * padded * checkpoint.logits_width() * static_cast<std::int64_t>(sizeof(float));
  return m;
}

std::string format_bytes(std::int64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (bytes < 1024) return fmt::format("{} B", bytes);
  if (bytes < 1024 * 1024) return fmt::format("{:.1f} KiB", b / 1024);
  if (bytes < 1024LL * 1024 * 1024) return fmt::format("{:.1f} MiB", b / (1024 * 1024));
  return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
}

std::vector<std::int64_t> encode_prompt(const Checkpoint& checkpoint, std::string_view prompt) {
  std::vector<std::int64_t> ids;
  if (checkpoint.config().add_bos) ids.push_back(checkpoint.config().bos_id);
  const auto body = checkpoint.tokenizer().encode(prompt);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

void validate(const GenerateOptions& o, const Checkpoint& checkpoint, std::int64_t prompt_tokens) {
  require(!checkpoint.config().causal,
          fmt::format("{} is a causal (autoregressive) model, not a masked denoiser; pass a "
                      "diffusion checkpoint with -m", checkpoint.path()));
  const bool parallel = uses_parallel_rule(o);
  if (o.schedule == Schedule::kBlock) {
    // Threshold and factor rules decide the step count themselves: --steps is ignored.
    plan_blocks(o.max_new_tokens, o.block_length, parallel ? o.max_new_tokens : o.steps);
  } else {
    require(o.max_new_tokens > 0, fmt::format("--max-new-tokens {} must be positive; try 128",
                                              o.max_new_tokens));
    require(o.steps > 0, fmt::format("--steps {} must be positive; try {}", o.steps,
                                     o.max_new_tokens));
    require(o.steps <= o.max_new_tokens || !is_scored(o.algorithm),
            fmt::format("--steps {} is larger than the {} tokens to generate; use at most "
                        "--steps {}", o.steps, o.max_new_tokens, o.max_new_tokens));
    require(o.eps > 0 && o.eps < 1, fmt::format("--eps {} is outside (0, 1); try 0.001", o.eps));
  }
  require(std::isfinite(o.temperature) && o.temperature >= 0,
          fmt::format("--temperature {} must be a finite number >= 0; try 0 (greedy) or 0.8",
                      o.temperature));
  require(o.top_k >= 0, fmt::format("--top-k {} must be >= 0 (0 turns it off)", o.top_k));
  require(o.top_p > 0 && o.top_p <= 1,
          fmt::format("--top-p {} is outside (0, 1]; try 0.95 (1 turns it off)", o.top_p));
  require(!o.threshold || (*o.threshold > 0 && *o.threshold <= 1),
          fmt::format("--threshold {} is outside (0, 1]; try 0.9", o.threshold.value_or(0)));
  require(!o.factor || *o.factor > 0,
          fmt::format("--factor {} must be > 0; try 1", o.factor.value_or(0)));
  require(!(o.threshold && o.factor), "--threshold and --factor are two parallel rules; pick one");
  require(std::isfinite(o.alg_temp) && o.alg_temp >= 0,
          fmt::format("--alg-temp {} must be >= 0 (0 turns it off)", o.alg_temp));
  require(std::isfinite(o.cfg_scale) && o.cfg_scale >= 0,
          fmt::format("--cfg-scale {} must be >= 0 (0 turns guidance off)", o.cfg_scale));
  if (!is_scored(o.algorithm)) {
    const std::string name = to_string(o.algorithm);
    require(!parallel, fmt::format("--algorithm {} reveals positions independently; it cannot "
                                   "combine with --threshold or --factor", name));
    require(o.alg_temp == 0, fmt::format("--algorithm {} does not rank positions; drop "
                                         "--alg-temp", name));
    require(o.schedule == Schedule::kTimestep,
            fmt::format("--algorithm {} needs --schedule timestep", name));
  }
  require(!parallel || o.schedule == Schedule::kBlock,
          "--threshold and --factor work on blocks; use --schedule block");
  require(!parallel || o.alg_temp == 0,
          "--alg-temp draws a fixed number of positions; it cannot combine with --threshold "
          "or --factor");
  for (const auto& s : o.stop) require(!s.empty(), "--stop needs a non-empty string");
  require(o.pad_multiple >= 1 && o.pad_multiple <= 4096,
          fmt::format("--pad-multiple {} is outside [1, 4096]; try 16", o.pad_multiple));
  require(o.cache_refresh >= 0,
          fmt::format("--cache-refresh {} must be >= 0 (0: refresh at block boundaries only)",
                      o.cache_refresh));
  if (o.cache == CacheMode::kPrefix || o.cache == CacheMode::kDual) {
    const std::string mode = to_string(o.cache);
    require(o.schedule == Schedule::kBlock,
            fmt::format("--cache {} needs --schedule block (the cache is refreshed at block "
                        "boundaries); use --cache none or auto with --schedule timestep", mode));
    require(checkpoint.supports_cache(),
            fmt::format("--cache {}: {} has no cache methods (forward_kv, forward_window); "
                        "re-export it with scripts/export/export_model.py --from-checkpoint, or use "
                        "--cache none", mode, checkpoint.path()));
  }
  require(o.max_memory >= 0, fmt::format("--max-memory {} must be >= 0 (0: no limit)", o.max_memory));
  const std::int64_t limit = checkpoint.config().max_seq_len;
  require(prompt_tokens < limit,
          fmt::format("the prompt ({} tokens) leaves no room in the model's maximum sequence "
                      "length {}; shorten it to at most {} tokens", prompt_tokens, limit,
                      limit - 1));
  require(prompt_tokens + o.max_new_tokens <= limit,
          fmt::format("the prompt ({} tokens) plus --max-new-tokens {} exceeds the model's maximum "
                      "sequence length {}; shorten the prompt or use -n {} or less",
                      prompt_tokens, o.max_new_tokens, limit, limit - prompt_tokens));
  if (o.max_memory > 0) {
    const MemoryEstimate m = estimate_memory(o, checkpoint, prompt_tokens);
    require(m.total() <= o.max_memory,
            fmt::format("this run needs about {} ({} bytes: weights {}, key/value cache {}, logits "
                        "{}), more than --max-memory {}; raise --max-memory, shorten -n or the "
                        "prompt, or use --cache none", format_bytes(m.total()), m.total(),
                        format_bytes(m.weights), format_bytes(m.cache), format_bytes(m.logits),
                        format_bytes(o.max_memory)));
  }
}

std::int64_t padded_length(std::int64_t length, std::int64_t pad_multiple) {
  const std::int64_t m = std::max<std::int64_t>(pad_multiple, 1);
  return (length + m - 1) / m * m;
}

}  // namespace dlm
