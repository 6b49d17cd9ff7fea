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

// One generation's state: the canvas, the stream, the counters.
class Run {
 public:
  Run(Checkpoint& checkpoint, const std::vector<std::int64_t>& prompt_ids,
      const GenerateOptions& o, GenerationObserver* observer)
      : impl_(checkpoint.impl()),
        cfg_(impl_.config),
        o_(o),
        observer_(observer),
        prompt_len_(static_cast<std::int64_t>(prompt_ids.size())),
        canvas_(prompt_ids),
        generated_(static_cast<std::size_t>(o.max_new_tokens), cfg_.mask_id),
        stream_(*impl_.tokenizer, cfg_.eos_id, cfg_.mask_id, o.stop) {
    canvas_.resize(static_cast<std::size_t>(prompt_len_ + o.max_new_tokens), cfg_.mask_id);
    rule_.style = o.style;
    rule_.algorithm = o.algorithm;
    rule_.temperature = o.temperature;
    rule_.top_k = o.top_k;
    rule_.top_p = o.top_p;
    std::vector<std::int64_t> ends{cfg_.eos_id};
    if (cfg_.eot_id) ends.push_back(*cfg_.eot_id);
    if (o.eos == EosPolicy::kSuppress) rule_.banned = ends;
    if (o.eos == EosPolicy::kDefer) rule_.deferred = ends;
    result_.prompt_token_ids = prompt_ids;
    result_.seed = o.seed;
    result_.load_ms = impl_.load_ms;
  }

  GenerationResult execute() {
    const auto t_start = Clock::now();
    c10::InferenceMode guard;
    if (o_.schedule == Schedule::kBlock) {
      run_blocks();
    } else {
      run_timesteps();
    }
    stream_.advance(generated_);
    emit_text(stream_.finish());
    result_.text = stream_.text();
    result_.token_ids = stream_.tokens();
    result_.finish_reason = stream_.finished() ? "stop" : "length";
    result_.total_ms = result_.load_ms + ms_since(t_start);
    return std::move(result_);
  }

 private:
  void run_blocks() {
    const bool parallel = uses_parallel_rule(o_);
    const auto plan = plan_blocks(o_.max_new_tokens, o_.block_length,
                                  parallel ? o_.max_new_tokens : o_.steps);
    for (const BlockPlan& block : plan) {
      const std::int64_t a = block.start, b = block.start + block.length;
      if (parallel) {
        Selection sel;
        sel.kind = o_.threshold ? Selection::Kind::kThreshold : Selection::Kind::kFactor;
        while (count_masked(a, b) > 0) {
          if (scored_step(a, b, sel)) return;
        }
        continue;
      }
      const auto counts = transfer_counts(block.length, block.steps);
      for (const std::int64_t k : counts) {
        if (k == 0) {  // a ragged block's spare step commits nothing: no forward needed
          ++step_;
          continue;
        }
        if (scored_step(a, b, Selection{Selection::Kind::kTopK, k})) return;
      }
    }
  }

  void run_timesteps() {
    const auto ts = timesteps(o_.eps, o_.steps);
    const std::int64_t n = o_.max_new_tokens;
    for (std::int64_t i = 0; i < o_.steps; ++i) {
      const float t = ts[i], s = ts[i + 1];
      const bool last = i == o_.steps - 1;
      const float keep = s / t;
      if (is_scored(o_.algorithm)) {
        const std::int64_t masked = count_masked(0, n);
        const std::int64_t k = last ? masked
                                    : static_cast<std::int64_t>(static_cast<float>(masked) *
                                                                (1.0f - keep));
        if (k == 0) {
          ++step_;
          continue;
        }
        if (scored_step(0, n, Selection{Selection::Kind::kTopK, k})) return;
      } else {
        if (reveal_step(last ? 1.0f : 1.0f - keep)) return;
      }
    }
  }

  std::int64_t count_masked(std::int64_t a, std::int64_t b) const {
    std::int64_t m = 0;
    for (std::int64_t p = a; p < b; ++p) m += generated_[p] == cfg_.mask_id;
    return m;
  }

  // Logits rows predicting generated positions [a, b), on the CPU as float32.
  at::Tensor logits_for(std::int64_t a, std::int64_t b) {
    const auto t0 = Clock::now();
    const auto forward_rows = [&](std::vector<std::int64_t>& ids) {
      const auto input = torch::from_blob(ids.data(), {1, static_cast<std::int64_t>(ids.size())},
                                          torch::kLong).to(impl_.device, false, true);
      const at::Tensor logits = impl_.forward(input);
      ++result_.nfe;
      const std::int64_t lo = out_row(prompt_len_ + a), hi = out_row(prompt_len_ + b - 1) + 1;
      return logits[0].slice(0, lo, hi).to(torch::kCPU, torch::kFloat).contiguous();
    };
    at::Tensor rows = forward_rows(canvas_);
    if (o_.cfg_scale > 0) {
      std::vector<std::int64_t> uncond(canvas_);
      std::fill(uncond.begin(), uncond.begin() + prompt_len_, cfg_.mask_id);
      const at::Tensor u = forward_rows(uncond);
      rows = (u + (o_.cfg_scale + 1) * (rows - u)).contiguous();
    }
    result_.forward_ms += ms_since(t0);
    return rows;
  }

  // Output row predicting canvas index i (shifted logits: i - 1, Dream style).
  std::int64_t out_row(std::int64_t i) const {
    return cfg_.shifted_logits ? std::max<std::int64_t>(i - 1, 0) : i;
  }

  // Output rows of [a, b) hold position p at row out_row(p) - out_row(a).
  const float* row_of(const at::Tensor& rows, std::int64_t a, std::int64_t p) const {
    const std::int64_t r = out_row(prompt_len_ + p) - out_row(prompt_len_ + a);
    return rows.data_ptr<float>() + r * rows.size(1);
  }

  DrawKey key(std::int64_t p) const {
    return DrawKey{o_.seed, static_cast<std::uint64_t>(p), static_cast<std::uint64_t>(step_)};
  }

  // One scored step on [a, b). Returns true when generation should stop.
  bool scored_step(std::int64_t a, std::int64_t b, const Selection& sel) {
    const at::Tensor rows = logits_for(a, b);
    std::vector<std::int64_t> positions;
    std::vector<std::uint64_t> draw_positions;
    std::vector<double> scores;
    std::vector<std::int64_t> tokens;
    for (std::int64_t p = a; p < b; ++p) {
      if (generated_[p] != cfg_.mask_id) continue;
      const Candidate c = propose(row_of(rows, a, p), cfg_.vocab_size, rule_, key(p));
      positions.push_back(p);
      draw_positions.push_back(static_cast<std::uint64_t>(p));
      scores.push_back(c.score);
      tokens.push_back(c.token);
    }
    std::vector<std::int64_t> chosen;
    switch (sel.kind) {
      case Selection::Kind::kThreshold:
        chosen = select_threshold(scores, *o_.threshold);
        break;
      case Selection::Kind::kFactor:
        chosen = select_factor(scores, *o_.factor);
        break;
      case Selection::Kind::kTopK:
        chosen = o_.alg_temp > 0 ? select_sampled(scores, draw_positions, sel.k, o_.alg_temp,
                                                  o_.seed, static_cast<std::uint64_t>(step_))
                                 : select_top_k(scores, sel.k);
        break;
    }
    for (const std::int64_t i : chosen) commit(positions[i], tokens[i]);
    return finish_step();
  }

  // Origin / ancestral step: each masked position is revealed when its draw is below
  // p_transfer. Origin runs the model every step (Dream); ancestral only when something
  // is revealed, and reuses the last output while the canvas is unchanged (MDLM).
  bool reveal_step(float p_transfer) {
    const std::int64_t n = o_.max_new_tokens;
    std::vector<std::int64_t> reveal;
    for (std::int64_t p = 0; p < n; ++p) {
      if (generated_[p] != cfg_.mask_id) continue;
      const double u = RngKey(o_.seed, static_cast<std::uint64_t>(p),
                              static_cast<std::uint64_t>(step_), RngStream::kReveal).uniform(0);
      if (u < static_cast<double>(p_transfer)) reveal.push_back(p);
    }
    const bool ancestral = o_.algorithm == Algorithm::kAncestral;
    if (!ancestral || (!reveal.empty() && (changed_since_forward_ || !cached_.defined()))) {
      cached_ = logits_for(0, n);
      changed_since_forward_ = false;
    }
    for (const std::int64_t p : reveal) {
      commit(p, propose(row_of(cached_, 0, p), cfg_.vocab_size, rule_, key(p)).token);
    }
    return finish_step();
  }

  void commit(std::int64_t p, std::int64_t token) {
    generated_[p] = token;
    canvas_[prompt_len_ + p] = token;
    changed_since_forward_ = true;
  }

  // Observer, stream and stop checks after a step. Returns true to stop.
  bool finish_step() {
    if (observer_) observer_->on_step(StepEvent{step_, o_.steps, generated_});
    ++step_;
    emit_text(stream_.advance(generated_));
    return stream_.hit_stop_string() || (o_.eos == EosPolicy::kStop && stream_.saw_eos());
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
  at::Tensor cached_;
  bool changed_since_forward_ = true;
};

void require(bool ok, const std::string& message) {
  if (!ok) throw UsageError(message);
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
  const std::int64_t limit = checkpoint.config().max_seq_len;
  require(prompt_tokens < limit,
          fmt::format("the prompt ({} tokens) leaves no room in the model's maximum sequence "
                      "length {}; shorten it to at most {} tokens", prompt_tokens, limit,
                      limit - 1));
  require(prompt_tokens + o.max_new_tokens <= limit,
          fmt::format("the prompt ({} tokens) plus --max-new-tokens {} exceeds the model's maximum "
                      "sequence length {}; shorten the prompt or use -n {} or less",
                      prompt_tokens, o.max_new_tokens, limit, limit - prompt_tokens));
}

GenerationResult generate(Checkpoint& checkpoint, const std::vector<std::int64_t>& prompt_ids,
                          const GenerateOptions& options, GenerationObserver* observer) {
  validate(options, checkpoint, static_cast<std::int64_t>(prompt_ids.size()));
  return Run(checkpoint, prompt_ids, options, observer).execute();
}

}  // namespace dlm
