#include "dlm/sampler.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <tuple>

#include "checkpoint_impl.h"
#include "dlm/error.h"
#include "dlm/ops.h"
#include "dlm/schedule.h"
#include "dlm/scoring.h"
#include "dlm/text_stream.h"

namespace dlm {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

bool uses_parallel_rule(const GenerateOptions& o) { return o.threshold || o.factor; }

// The timestep grid linspace(1, eps, n) in float32 with torch's symmetric scalar formula
// (the first half counts up from 1, the second half down from eps), as Dream builds it.
std::vector<float> timesteps(double eps, std::int64_t steps) {
  const std::int64_t n = steps + 1;
  const float start = 1.0f;
  const auto end = static_cast<float>(eps);
  const float step = (end - start) / static_cast<float>(n - 1);
  std::vector<float> ts(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    ts[i] = i < n / 2 ? start + step * static_cast<float>(i)
                      : end - step * static_cast<float>(n - i - 1);
  }
  return ts;
}

// How a scored step picks positions among the eligible ones.
struct Selection {
  enum class Kind { kTopK, kThreshold, kFactor } kind = Kind::kTopK;
  std::int64_t k = 0;
};

// The next step of a row: a scored step on [a, b), or a reveal step on the whole span.
struct Step {
  bool reveal = false;
  std::int64_t a = 0, b = 0;
  Selection selection;
  std::vector<std::int64_t> revealed;  // reveal steps: the positions whose draw came up
};

// How a forward call runs: the whole canvas without a cache, the whole canvas refreshing
// the cache (forward_kv), or a window of the canvas against the cache (forward_window).
enum class Pass { kPlain, kFull, kWindow };

// Keys and values of a group of canvases [n_layers, B, H, P, hd], shared by the inputs
// whose full pass ran together; an input reads slot `slot`.
struct CacheBlock {
  at::Tensor keys, values;
};
struct CacheSlot {
  std::shared_ptr<CacheBlock> block;
  std::int64_t slot = 0;
};

// One request's generation as a state machine: advance() finds the next step that needs
// the model (applying the steps that need none), apply() consumes that forward's logits.
// The batch driver runs many rows through shared forward calls.
class RowRun {
 public:
  RowRun(Checkpoint::Impl& impl, const std::vector<std::int64_t>& prompt_ids,
         const GenerateOptions& o, GenerationObserver* observer)
      : impl_(impl),
        cfg_(impl.config),
        o_(o),
        observer_(observer),
        prompt_len_(static_cast<std::int64_t>(prompt_ids.size())),
        canvas_(prompt_ids),
        generated_(static_cast<std::size_t>(o.max_new_tokens), cfg_.mask_id),
        stream_(*impl.tokenizer, cfg_.eos_id, cfg_.mask_id, o.stop) {
    canvas_.resize(static_cast<std::size_t>(prompt_len_ + o.max_new_tokens), cfg_.mask_id);
    rule_.style = o.style;
    rule_.algorithm = o.algorithm;
    rule_.temperature = o.temperature;
    rule_.top_k = o.top_k;
    rule_.top_p = o.top_p;
    std::vector<std::int64_t> ends{cfg_.eos_id};
    if (cfg_.eot_id) ends.push_back(*cfg_.eot_id);
    // The mask id is never a candidate: committing it would leave the position masked
    // (a threshold block would then never finish).
    rule_.banned = {cfg_.mask_id};
    if (o.eos == EosPolicy::kSuppress) rule_.banned.insert(rule_.banned.end(), ends.begin(), ends.end());
    if (o.eos == EosPolicy::kDefer) rule_.deferred = ends;
    if (o.schedule == Schedule::kBlock) {
      plan_ = plan_blocks(o.max_new_tokens, o.block_length,
                          uses_parallel_rule(o) ? o.max_new_tokens : o.steps);
    } else {
      timesteps_ = timesteps(o.eps, o.steps);
    }
    result_.prompt_token_ids = prompt_ids;
    result_.seed = o.seed;
    result_.load_ms = impl.load_ms;
    cache_ = resolve_cache(o, impl.has_cache);
    result_.cache = to_string(cache_);
    if (cache_ != CacheMode::kNone) {
      caches_.resize(inputs().size());
      result_.cache_bytes = static_cast<std::int64_t>(caches_.size()) * padded() *
                            impl.kv_bytes_per_token;
    }
  }

  // Finds the next step that needs a forward call. False when the generation is over.
  bool advance() {
    pending_ = next_step();
    return pending_.has_value();
  }

  std::int64_t length() const { return static_cast<std::int64_t>(canvas_.size()); }
  std::int64_t padded() const { return padded_length(length(), o_.pad_multiple); }

  // How the pending step's forward runs (after advance() returned true).
  Pass pass() const {
    if (cache_ == CacheMode::kNone) return Pass::kPlain;
    const bool refresh = calls_ == 0 || (o_.cache_refresh > 0 && calls_ % o_.cache_refresh == 0);
    return refresh ? Pass::kFull : Pass::kWindow;
  }

  // The canvas window [lo, hi) of the pending window pass: from the output row of the
  // block's first position (one early with shifted logits, so that its prediction is
  // fresh) to the block's end (dual) or the canvas end (prefix).
  std::pair<std::int64_t, std::int64_t> window() const {
    const std::int64_t lo = out_row(prompt_len_ + pending_->a);
    const std::int64_t hi = cache_ == CacheMode::kDual ? prompt_len_ + pending_->b : length();
    return {lo, hi};
  }

  // The cache of each input (prefix and dual modes).
  std::vector<CacheSlot>& caches() { return caches_; }

  // The canvases of the pending forward: the canvas, and with guidance the same with
  // every prompt position masked.
  std::vector<std::vector<std::int64_t>> inputs() const {
    std::vector<std::vector<std::int64_t>> out{canvas_};
    if (o_.cfg_scale > 0) {
      out.push_back(canvas_);
      std::fill(out.back().begin(), out.back().begin() + prompt_len_, cfg_.mask_id);
    }
    return out;
  }

  // Consumes the pending forward's logits: one float32 CPU tensor [rows, V'] per input,
  // whose row 0 is the output at canvas index `first_row` (0, or a window's start).
  void apply(const std::vector<at::Tensor>& logits, std::int64_t first_row, double forward_ms) {
    result_.forward_ms += forward_ms;
    result_.nfe += static_cast<std::int64_t>(logits.size());
    ++calls_;
    Step step = std::move(*pending_);
    pending_.reset();
    const at::Tensor rows = span_rows(logits, first_row, step.a, step.b);
    if (step.reveal) {
      cached_ = rows;
      changed_since_forward_ = false;
      reveal(step.revealed);
    } else {
      scored_commit(rows, step);
    }
    finish_step();
  }

  GenerationResult finish(double elapsed_ms) {
    stream_.advance(generated_);
    emit_text(stream_.finish());
    result_.text = stream_.text();
    result_.token_ids = stream_.tokens();
    result_.finish_reason = stream_.finished() ? "stop" : "length";
    result_.total_ms = result_.load_ms + elapsed_ms;
    return std::move(result_);
  }

 private:
  // The cursor over the schedule: returns the next step needing the model, or nullopt.
  std::optional<Step> next_step() {
    if (stopped_) return std::nullopt;
    return o_.schedule == Schedule::kBlock ? next_block_step() : next_timestep();
  }

  std::optional<Step> next_block_step() {
    while (block_ < plan_.size()) {
      const BlockPlan& blk = plan_[block_];
      const std::int64_t a = blk.start, b = blk.start + blk.length;
      if (uses_parallel_rule(o_)) {
        if (count_masked(a, b) > 0) {
          Step st{false, a, b, {}, {}};
          st.selection.kind = o_.threshold ? Selection::Kind::kThreshold : Selection::Kind::kFactor;
          return st;
        }
      } else {
        if (sub_ == 0) counts_ = transfer_counts(blk.length, blk.steps);
        while (sub_ < counts_.size()) {
          const std::int64_t k = counts_[sub_++];
          if (k > 0) return Step{false, a, b, {Selection::Kind::kTopK, k}, {}};
          ++step_;  // a ragged block's spare step commits nothing: no forward needed
        }
      }
      ++block_;
      sub_ = 0;
      calls_ = 0;  // the next block starts with a full pass
    }
    return std::nullopt;
  }

  std::optional<Step> next_timestep() {
    const std::int64_t n = o_.max_new_tokens;
    while (tstep_ < o_.steps) {
      const float t = timesteps_[tstep_], s = timesteps_[tstep_ + 1];
      const bool last = tstep_ == o_.steps - 1;
      ++tstep_;
      if (is_scored(o_.algorithm)) {
        const std::int64_t masked = count_masked(0, n);
        const std::int64_t k =
            last ? masked
                 : static_cast<std::int64_t>(static_cast<float>(masked) * (1.0f - s / t));
        if (k > 0) return Step{false, 0, n, {Selection::Kind::kTopK, k}, {}};
        ++step_;
        continue;
      }
      // Origin / ancestral: positions revealed independently when their draw is below
      // p_transfer. Origin runs the model every step (Dream); ancestral only when
      // something is revealed, reusing the last output while the canvas is unchanged (MDLM).
      const float p_transfer = last ? 1.0f : 1.0f - s / t;
      std::vector<std::int64_t> revealed;
      for (std::int64_t p = 0; p < n; ++p) {
        if (generated_[p] != cfg_.mask_id) continue;
        const double u = RngKey(o_.seed, static_cast<std::uint64_t>(p),
                                static_cast<std::uint64_t>(step_), RngStream::kReveal).uniform(0);
        if (u < static_cast<double>(p_transfer)) revealed.push_back(p);
      }
      const bool ancestral = o_.algorithm == Algorithm::kAncestral;
      if (!ancestral || (!revealed.empty() && (changed_since_forward_ || !cached_.defined()))) {
        return Step{true, 0, n, {}, std::move(revealed)};
      }
      reveal(revealed);
      finish_step();
      if (stopped_) return std::nullopt;
    }
    return std::nullopt;
  }

  std::int64_t count_masked(std::int64_t a, std::int64_t b) const {
    std::int64_t m = 0;
    for (std::int64_t p = a; p < b; ++p) m += generated_[p] == cfg_.mask_id;
    return m;
  }

  // Output row predicting canvas index i (shifted logits: i - 1, Dream style).
  std::int64_t out_row(std::int64_t i) const {
    return cfg_.shifted_logits ? std::max<std::int64_t>(i - 1, 0) : i;
  }

  // Rows predicting generated positions [a, b), float32 on the CPU; with guidance
  // u + (w + 1) * (c - u) from the conditional and the prompt-masked logits.
  at::Tensor span_rows(const std::vector<at::Tensor>& logits, std::int64_t first_row,
                       std::int64_t a, std::int64_t b) {
    const std::int64_t lo = out_row(prompt_len_ + a) - first_row;
    const std::int64_t hi = out_row(prompt_len_ + b - 1) + 1 - first_row;
    at::Tensor rows = logits[0].slice(0, lo, hi);
    if (o_.cfg_scale > 0) {
      const at::Tensor u = logits[1].slice(0, lo, hi);
      rows = u + (o_.cfg_scale + 1) * (rows - u);
    }
    return rows.contiguous();
  }

  // Rows of [a, b) hold position p at row out_row(p) - out_row(a).
  const float* row_of(const at::Tensor& rows, std::int64_t a, std::int64_t p) const {
    const std::int64_t r = out_row(prompt_len_ + p) - out_row(prompt_len_ + a);
    return rows.data_ptr<float>() + r * rows.size(1);
  }

  DrawKey key(std::int64_t p) const {
    return DrawKey{o_.seed, static_cast<std::uint64_t>(p), static_cast<std::uint64_t>(step_)};
  }

  // Scores every masked position of [a, b) with the fused dlm::score op, then picks and
  // writes the positions to commit with dlm::commit (or Dream's alg_temp draw).
  void scored_commit(const at::Tensor& rows, const Step& step) {
    std::vector<std::int64_t> positions, row_index;
    for (std::int64_t p = step.a; p < step.b; ++p) {
      if (generated_[p] != cfg_.mask_id) continue;
      positions.push_back(p);
      row_index.push_back(out_row(prompt_len_ + p) - out_row(prompt_len_ + step.a));
    }
    const auto n = static_cast<std::int64_t>(positions.size());
    const auto longs = torch::TensorOptions().dtype(torch::kLong);
    at::Tensor logits = rows.index_select(0, torch::tensor(row_index, longs));
    if (logits.size(1) != cfg_.vocab_size) logits = logits.narrow(1, 0, cfg_.vocab_size).contiguous();
    const auto [tokens, scores] =
        ops::score(logits, torch::full({n}, static_cast<std::int64_t>(o_.seed), longs),
                   torch::tensor(positions, longs), torch::full({n}, step_, longs), rule_);
    const auto* token = tokens.data_ptr<std::int64_t>();
    if (step.selection.kind == Selection::Kind::kTopK && o_.alg_temp > 0) {
      const std::vector<double> score(scores.data_ptr<double>(), scores.data_ptr<double>() + n);
      const std::vector<std::uint64_t> draw(positions.begin(), positions.end());
      for (const std::int64_t i : select_sampled(score, draw, step.selection.k, o_.alg_temp,
                                                 o_.seed, static_cast<std::uint64_t>(step_))) {
        commit(positions[i], token[i]);
      }
      return;
    }
    ops::CommitRule rule = ops::CommitRule::kTopK;
    double value = 0.0;
    if (step.selection.kind == Selection::Kind::kThreshold) {
      rule = ops::CommitRule::kThreshold;
      value = *o_.threshold;
    } else if (step.selection.kind == Selection::Kind::kFactor) {
      rule = ops::CommitRule::kFactor;
      value = *o_.factor;
    }
    at::Tensor canvas = torch::full({1, n}, cfg_.mask_id, longs);
    const at::Tensor chosen =
        ops::commit(scores.view({1, n}), tokens.view({1, n}), torch::ones({1, n}, torch::kBool),
                    canvas, torch::full({1}, step.selection.k, longs), rule, value);
    const auto* pick = chosen.data_ptr<bool>();
    for (std::int64_t i = 0; i < n; ++i) {
      if (pick[i]) commit(positions[i], canvas.data_ptr<std::int64_t>()[i]);
    }
  }

  void reveal(const std::vector<std::int64_t>& positions) {
    for (const std::int64_t p : positions) {
      commit(p, propose(row_of(cached_, 0, p), cfg_.vocab_size, rule_, key(p)).token);
    }
  }

  void commit(std::int64_t p, std::int64_t token) {
    generated_[p] = token;
    canvas_[prompt_len_ + p] = token;
    changed_since_forward_ = true;
  }

  // Observer, stream and stop checks after a step.
  void finish_step() {
    if (observer_) observer_->on_step(StepEvent{step_, o_.steps, generated_});
    ++step_;
    emit_text(stream_.advance(generated_));
    stopped_ = stream_.hit_stop_string() || (o_.eos == EosPolicy::kStop && stream_.saw_eos());
  }

  void emit_text(const std::string& text) {
    if (observer_ && !text.empty()) observer_->on_text(text);
  }

  Checkpoint::Impl& impl_;
  const ModelConfig& cfg_;
  const GenerateOptions& o_;
  GenerationObserver* observer_;
  std::int64_t prompt_len_;
  std::vector<std::int64_t> canvas_;
  std::vector<std::int64_t> generated_;
  TextStream stream_;
  TokenRule rule_;
  GenerationResult result_;
  std::int64_t step_ = 0;
  bool stopped_ = false;
  // Schedule cursor.
  std::vector<BlockPlan> plan_;
  std::size_t block_ = 0;
  std::size_t sub_ = 0;
  std::vector<std::int64_t> counts_;
  std::vector<float> timesteps_;
  std::int64_t tstep_ = 0;
  std::optional<Step> pending_;
  // Key/value cache: the resolved mode, model calls so far in the current block, and
  // each input's cache.
  CacheMode cache_ = CacheMode::kNone;
  std::int64_t calls_ = 0;
  std::vector<CacheSlot> caches_;
  // Ancestral reuse of the last model output.
  at::Tensor cached_;
  bool changed_since_forward_ = true;
};

// Canvases of one padded length as model inputs: ids right-padded with the pad id,
// padding masked out as keys, positions 0..L-1 for real tokens (0 for padding).
struct PaddedBatch {
  at::Tensor ids, mask, positions;
};

PaddedBatch pad_canvases(const Checkpoint::Impl& impl,
                         const std::vector<std::vector<std::int64_t>>& canvases,
                         std::int64_t padded) {
  const auto rows = static_cast<std::int64_t>(canvases.size());
  // Filled on the CPU (tensors own their memory: they outlive this function), then moved.
  at::Tensor ids = torch::full({rows, padded}, impl.config.pad_id, torch::kLong);
  at::Tensor positions = torch::zeros({rows, padded}, torch::kLong);
  at::Tensor real = torch::zeros({rows, padded}, torch::kBool);
  auto* id = ids.data_ptr<std::int64_t>();
  auto* pos = positions.data_ptr<std::int64_t>();
  auto* mask = real.data_ptr<bool>();
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto& c = canvases[r];
    for (std::size_t i = 0; i < c.size(); ++i) {
      const std::size_t at = static_cast<std::size_t>(r * padded) + i;
      id[at] = c[i];
      pos[at] = static_cast<std::int64_t>(i);
      mask[at] = true;
    }
  }
  return {ids.to(impl.device), real.to(impl.device), positions.to(impl.device)};
}

// Per-row logits [rows, V'] as float32 on the CPU.
std::vector<at::Tensor> split_rows(const at::Tensor& logits) {
  const at::Tensor cpu = logits.to(torch::kCPU, torch::kFloat);
  std::vector<at::Tensor> out;
  out.reserve(static_cast<std::size_t>(cpu.size(0)));
  for (std::int64_t r = 0; r < cpu.size(0); ++r) out.push_back(cpu[r]);
  return out;
}

// One forward call without a cache over canvases of one padded length.
std::vector<at::Tensor> forward_padded(Checkpoint::Impl& impl,
                                       const std::vector<std::vector<std::int64_t>>& canvases,
                                       std::int64_t padded) {
  const PaddedBatch in = pad_canvases(impl, canvases, padded);
  return split_rows(impl.forward(in.ids, in.mask, in.positions));
}

// One full pass (forward_kv) over canvases of one padded length: the logits, and the
// keys/values become one cache block shared by these inputs (input j reads slot j).
std::vector<at::Tensor> forward_full(Checkpoint::Impl& impl,
                                     const std::vector<std::vector<std::int64_t>>& canvases,
                                     std::int64_t padded, const std::vector<CacheSlot*>& slots) {
  const PaddedBatch in = pad_canvases(impl, canvases, padded);
  auto out = impl.forward_kv(in.ids, in.mask, in.positions);
  auto block = std::make_shared<CacheBlock>(CacheBlock{out.keys, out.values});
  for (std::size_t j = 0; j < slots.size(); ++j) {
    *slots[j] = CacheSlot{block, static_cast<std::int64_t>(j)};
  }
  return split_rows(out.logits);
}

// The cache block holding these inputs' slots in order: their common block when they are
// exactly its slots 0..B-1 (the usual case: rows that refreshed together), else a new
// block gathered from theirs, to which the inputs move.
std::shared_ptr<CacheBlock> gather_cache(const std::vector<CacheSlot*>& slots) {
  const auto& first = slots.front()->block;
  bool same = first->keys.size(1) == static_cast<std::int64_t>(slots.size());
  for (std::size_t j = 0; j < slots.size() && same; ++j) {
    same = slots[j]->block == first && slots[j]->slot == static_cast<std::int64_t>(j);
  }
  if (same) return first;
  std::vector<at::Tensor> keys, values;
  for (const CacheSlot* s : slots) {
    keys.push_back(s->block->keys.narrow(1, s->slot, 1));
    values.push_back(s->block->values.narrow(1, s->slot, 1));
  }
  auto block = std::make_shared<CacheBlock>(CacheBlock{torch::cat(keys, 1), torch::cat(values, 1)});
  for (std::size_t j = 0; j < slots.size(); ++j) {
    *slots[j] = CacheSlot{block, static_cast<std::int64_t>(j)};
  }
  return block;
}

// One window pass: input j runs canvas[lo_j, lo_j + W) (its true positions) against its
// cache; the fresh keys/values are written into the cache at lo_j (dlm::cache_write).
// Returns per-input logits [W, V'] (row 0 is canvas index lo_j).
std::vector<at::Tensor> forward_window(Checkpoint::Impl& impl,
                                       const std::vector<std::vector<std::int64_t>>& canvases,
                                       const std::vector<std::int64_t>& lo, std::int64_t width,
                                       std::int64_t padded, const std::vector<CacheSlot*>& slots) {
  const auto rows = static_cast<std::int64_t>(canvases.size());
  at::Tensor window = torch::empty({rows, width}, torch::kLong);
  at::Tensor pos = torch::empty({rows, width}, torch::kLong);
  at::Tensor offsets = torch::empty({rows}, torch::kLong);
  at::Tensor mask = torch::zeros({rows, padded}, torch::kBool);
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto& c = canvases[r];
    for (std::int64_t t = 0; t < width; ++t) {
      window.data_ptr<std::int64_t>()[r * width + t] = c[lo[r] + t];
      pos.data_ptr<std::int64_t>()[r * width + t] = lo[r] + t;
    }
    offsets.data_ptr<std::int64_t>()[r] = lo[r];
    mask[r].slice(0, 0, static_cast<std::int64_t>(c.size())).fill_(true);
  }
  window = window.to(impl.device);
  pos = pos.to(impl.device);
  offsets = offsets.to(impl.device);
  mask = mask.to(impl.device);
  const auto block = gather_cache(slots);
  auto out = impl.forward_window(window, pos, offsets, block->keys, block->values, mask);
  ops::cache_write(block->keys, out.keys, offsets);
  ops::cache_write(block->values, out.values, offsets);
  return split_rows(out.logits);
}

void require(bool ok, const std::string& message) {
  if (!ok) throw UsageError(message);
}

}  // namespace

CacheMode resolve_cache(const GenerateOptions& o, bool checkpoint_supports_cache) {
  if (o.cache != CacheMode::kAuto) return o.cache;
  return o.schedule == Schedule::kBlock && checkpoint_supports_cache ? CacheMode::kDual
                                                                    : CacheMode::kNone;
}

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
                        "re-export it with scripts/export_model.py --from-checkpoint, or use "
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

GenerationResult generate(Checkpoint& checkpoint, const std::vector<std::int64_t>& prompt_ids,
                          const GenerateOptions& options, GenerationObserver* observer) {
  validate(options, checkpoint, static_cast<std::int64_t>(prompt_ids.size()));
  return std::move(generate_batch(checkpoint, {BatchRequest{prompt_ids, options, observer}})[0]);
}

std::vector<GenerationResult> generate_batch(Checkpoint& checkpoint,
                                             const std::vector<BatchRequest>& requests) {
  std::vector<GenerationResult> results(requests.size());
  generate_batch(checkpoint, requests,
                 [&](std::size_t i, GenerationResult&& r) { results[i] = std::move(r); });
  return results;
}

std::size_t generate_batch(Checkpoint& checkpoint, const std::vector<BatchRequest>& requests,
                           const std::function<void(std::size_t, GenerationResult&&)>& on_done,
                           const std::atomic<bool>* cancel) {
  const auto t_start = Clock::now();
  auto& impl = checkpoint.impl();
  c10::InferenceMode guard;
  std::vector<std::unique_ptr<RowRun>> runs;
  for (const auto& r : requests) {
    runs.push_back(std::make_unique<RowRun>(impl, r.prompt_ids, r.options, r.observer));
  }
  std::size_t finished = 0;
  std::vector<bool> active(runs.size());
  const auto step_row = [&](std::size_t i) {
    active[i] = runs[i]->advance();
    if (!active[i]) {
      on_done(i, runs[i]->finish(ms_since(t_start)));
      runs[i].reset();  // a finished row costs nothing more
      ++finished;
    }
  };
  for (std::size_t i = 0; i < runs.size(); ++i) step_row(i);
  while (!(cancel && cancel->load())) {
    // The rows waiting for the model, grouped by how their forward runs: one call per
    // group (pass, padded length, window width).
    std::map<std::tuple<int, std::int64_t, std::int64_t>, std::vector<std::size_t>> groups;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      if (!active[i]) continue;
      const Pass pass = runs[i]->pass();
      std::int64_t width = 0;
      if (pass == Pass::kWindow) {
        const auto [lo, hi] = runs[i]->window();
        width = hi - lo;
      }
      groups[{static_cast<int>(pass), runs[i]->padded(), width}].push_back(i);
    }
    if (groups.empty()) break;
    for (auto& [key, members] : groups) {
      const auto [pass_id, padded, width] = key;
      const auto pass = static_cast<Pass>(pass_id);
      if (pass == Pass::kWindow) {
        // Rows that refreshed together keep their order, so their cache block is reused.
        std::stable_sort(members.begin(), members.end(), [&](std::size_t x, std::size_t y) {
          const CacheSlot& a = runs[x]->caches().front();
          const CacheSlot& b = runs[y]->caches().front();
          return a.block != b.block ? a.block.get() < b.block.get() : a.slot < b.slot;
        });
      }
      std::vector<std::vector<std::int64_t>> canvases;
      std::vector<std::size_t> first_input;
      std::vector<CacheSlot*> slots;
      std::vector<std::int64_t> lo;
      for (const std::size_t i : members) {
        first_input.push_back(canvases.size());
        const std::int64_t start = pass == Pass::kWindow ? runs[i]->window().first : 0;
        auto inputs = runs[i]->inputs();
        for (std::size_t j = 0; j < inputs.size(); ++j) {
          canvases.push_back(std::move(inputs[j]));
          if (pass != Pass::kPlain) slots.push_back(&runs[i]->caches()[j]);
          lo.push_back(start);
        }
      }
      const auto t_fwd = Clock::now();
      const auto logits =
          pass == Pass::kPlain  ? forward_padded(impl, canvases, padded)
          : pass == Pass::kFull ? forward_full(impl, canvases, padded, slots)
                                : forward_window(impl, canvases, lo, width, padded, slots);
      // Each row is charged its share of the call.
      const double share = ms_since(t_fwd) / static_cast<double>(canvases.size());
      for (std::size_t m = 0; m < members.size(); ++m) {
        const std::size_t begin = first_input[m];
        const std::size_t end = m + 1 < members.size() ? first_input[m + 1] : canvases.size();
        std::vector<at::Tensor> mine(logits.begin() + begin, logits.begin() + end);
        runs[members[m]]->apply(mine, lo[begin], share * static_cast<double>(mine.size()));
        step_row(members[m]);
      }
    }
  }
  return finished;
}

}  // namespace dlm
