// Checks of a generation's options against a checkpoint and a prompt, and the memory a
// run needs: everything that decides, before any forward call, whether a run can go.
#include <fmt/format.h>

#include "dlm/model/checkpoint.h"
#include "dlm/error.h"
#include "dlm/sampling/sampler.h"

namespace dlm {
namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw UsageError(message);
}

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
  m.activations = checkpoint.activation_bytes(inputs, padded);
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

void check_room(const GenerateOptions& o, const ModelConfig& config) {
  const std::int64_t limit = config.max_seq_len;
  const std::int64_t most = limit - (config.add_bos ? 1 : 0);  // the shortest prompt is bos
  require(o.max_new_tokens <= most,
          fmt::format("-n {} exceeds the model's maximum sequence length {} (prompt and "
                      "generated tokens together); use -n {} or less", o.max_new_tokens, limit,
                      most));
}

void validate(const GenerateOptions& o, const Checkpoint& checkpoint, std::int64_t prompt_tokens) {
  require(!checkpoint.config().causal,
          fmt::format("{} is a causal (autoregressive) model, not a masked denoiser; pass a "
                      "diffusion checkpoint with -m", checkpoint.path()));
  // A -n no prompt fits with is named first: the steps and blocks of a huge -n are moot.
  check_room(o, checkpoint.config());
  check_options(o);  // everything that needs no model (dlm/sampling/options.h)
  if (is_cached(o.cache)) {
    require(checkpoint.supports_cache(),
            fmt::format("--cache {}: {} has no cache methods (forward_kv, forward_window); "
                        "re-export it with scripts/export/export_model.py --from-checkpoint, or use "
                        "--cache none", to_string(o.cache), checkpoint.path()));
  }
  const std::int64_t limit = checkpoint.config().max_seq_len;
  if (prompt_tokens + o.max_new_tokens > limit) {
    // check_room left room for at least bos; the way out names both lengths that could give.
    std::string way_out = fmt::format("shorten the prompt to at most {} tokens",
                                      limit - o.max_new_tokens);
    if (prompt_tokens < limit) way_out += fmt::format(" or use -n {} or less", limit - prompt_tokens);
    throw UsageError(fmt::format("the prompt ({} tokens) plus -n {} exceeds the model's maximum "
                                 "sequence length {}; {}", prompt_tokens, o.max_new_tokens, limit,
                                 way_out));
  }
  if (o.max_memory > 0) {
    const MemoryEstimate m = estimate_memory(o, checkpoint, prompt_tokens);
    require(m.total() <= o.max_memory,
            fmt::format("this run needs about {} ({} bytes: weights {}, key/value cache {}, logits "
                        "{}, activations {}), more than --max-memory {}; raise --max-memory, "
                        "shorten -n or the prompt, or use --cache none", format_bytes(m.total()),
                        m.total(), format_bytes(m.weights), format_bytes(m.cache),
                        format_bytes(m.logits), format_bytes(m.activations),
                        format_bytes(o.max_memory)));
  }
}

std::int64_t padded_length(std::int64_t length, std::int64_t pad_multiple) {
  const std::int64_t m = std::max<std::int64_t>(pad_multiple, 1);
  return (length + m - 1) / m * m;
}

}  // namespace dlm
