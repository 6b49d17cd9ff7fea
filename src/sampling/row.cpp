#include "sampling/row.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "dlm/ops/ops.h"
#include "dlm/sampling/logits_processors.h"

namespace dlm::sampling {
namespace {

// The ids that end the text: eos, and eot when the checkpoint has one. Both are treated
// alike everywhere: banned, deferred, ending the text and (--eos stop) the generation.
std::vector<std::int64_t> end_ids(const ModelConfig& config) {
  std::vector<std::int64_t> ends{config.eos_id};
  if (config.eot_id && *config.eot_id != config.eos_id) ends.push_back(*config.eot_id);
  return ends;
}

}  // namespace

Row::Row(const Denoiser& model, const Tokenizer& tokenizer,
         const std::vector<std::int64_t>& prompt_ids, const GenerateOptions& options,
         GenerationObserver* observer)
    : model_(model),
      config_(model.config()),
      options_(options),
      observer_(observer),
      selector_(make_selector(options)),
      editor_(make_token_editor(options)),
      cache_(make_cache_policy(options, model.supports_cache())),
      prompt_len_(static_cast<std::int64_t>(prompt_ids.size())),
      canvas_(prompt_ids),
      generated_(static_cast<std::size_t>(options.max_new_tokens), config_.mask_id),
      stream_(tokenizer, end_ids(config_), config_.mask_id, options.stop) {
  schedule_ = make_schedule(options, selector_->counted());
  canvas_.resize(static_cast<std::size_t>(prompt_len_ + options.max_new_tokens), config_.mask_id);
  rule_.style = options.style;
  rule_.algorithm = options.algorithm;
  rule_.temperature = options.temperature;
  rule_.top_k = options.top_k;
  rule_.top_p = options.top_p;
  rule_.min_p = options.min_p;
  const std::vector<std::int64_t> ends = end_ids(config_);
  // The mask id is never a candidate: committing it would leave the position masked (a
  // threshold block would then never finish).
  rule_.banned = {config_.mask_id};
  if (options.eos == EosPolicy::kSuppress) rule_.banned.insert(rule_.banned.end(), ends.begin(), ends.end());
  if (options.eos == EosPolicy::kDefer) rule_.deferred = ends;
  result_.prompt_token_ids = prompt_ids;
  result_.seed = options.seed;
  result_.cache = to_string(cache_->mode());
  const auto inputs = static_cast<std::int64_t>(this->inputs().size());
  if (cache_->mode() != CacheMode::kNone) caches_.resize(static_cast<std::size_t>(inputs));
  result_.cache_bytes = cache_->bytes(inputs, padded(), model.kv_bytes_per_token());
}

bool Row::advance() {
  pending_.reset();
  targets_.clear();
  edits_.clear();
  scored_.clear();
  keep_ = false;
  const bool changed = step_changed_;
  step_changed_ = false;
  while (!stopped_) {
    if (open_block_ && span().count_masked(open_block_->a, open_block_->b) == 0) {
      // Token editing: a filled block gets post steps while they still edit, then is final.
      if (editor_->wants_post_step(post_steps_, changed)) {
        ++post_steps_;
        pending_ = Step{open_block_->a, open_block_->b, 0, 0.0f, open_block_->block};
        collect_targets(*pending_);
        return true;
      }
      open_block_.reset();
      update_stream();
      continue;
    }
    std::int64_t skipped = 0;
    std::optional<Step> step = schedule_->next(span(), skipped);
    step_index_ += skipped;
    if (!step) return false;
    if (step->block != block_) {  // a new block starts with a full pass
      block_ = step->block;
      calls_in_block_ = 0;
      stale_ = false;
    }
    if (editor_ && (!open_block_ || open_block_->block != step->block)) {
      open_block_ = *step;
      post_steps_ = 0;
    }
    if (selector_->kind() != SelectorKind::kReveal) {
      collect_targets(*step);
    } else {
      std::vector<std::int64_t> revealed =
          selector_->draw(*step, span(), options_.seed, static_cast<std::uint64_t>(step_index_));
      if (selector_->reuses_output()) {
        // MDLM: the model runs only when something is revealed and the canvas changed since
        // its last output.
        if (revealed.empty() || (!changed_since_forward_ && kept_.defined())) {
          reveal_from_kept(revealed);
          finish_step();
          continue;
        }
        keep_ = true;
        revealed_ = std::move(revealed);
        for (std::int64_t p = step->a; p < step->b; ++p) targets_.push_back(p);
      } else {
        targets_ = std::move(revealed);  // Dream's origin runs the model every step
      }
      scored_ = targets_;
    }
    pending_ = *step;
    return true;
  }
  return false;
}

// The masked positions of the step's region; with token editing also the committed ones.
void Row::collect_targets(const Step& step) {
  for (std::int64_t p = step.a; p < step.b; ++p) {
    if (generated_[p] == config_.mask_id) {
      targets_.push_back(p);
    } else if (editor_) {
      edits_.push_back(p);
    }
  }
  scored_ = targets_;
  scored_.insert(scored_.end(), edits_.begin(), edits_.end());
}

std::int64_t Row::out_row(std::int64_t position) const {
  const std::int64_t i = prompt_len_ + position;
  return config_.shifted_logits ? std::max<std::int64_t>(i - 1, 0) : i;
}

std::pair<std::int64_t, std::int64_t> Row::window() const {
  return {out_row(pending_->a), cache_->window_end(prompt_len_ + pending_->b, length())};
}

std::int64_t Row::length() const {
  const auto full = static_cast<std::int64_t>(canvas_.size());
  if (options_.suffix_window <= 0 || !pending_) return full;
  return std::min(full, prompt_len_ + pending_->b + options_.suffix_window);
}

Canvases Row::inputs() const {
  Canvases out{std::vector<std::int64_t>(canvas_.begin(), canvas_.begin() + length())};
  if (options_.cfg_scale > 0) {
    out.push_back(out.front());
    std::fill(out.back().begin(), out.back().begin() + prompt_len_, config_.mask_id);
  }
  return out;
}

void Row::account(double forward_ms, std::int64_t calls) {
  result_.forward_ms += forward_ms;
  result_.nfe += calls;
  ++calls_in_block_;
  stale_ = false;  // the pass that ran used (a full pass: cleared) the drift flag
  pending_.reset();
}

void Row::note_similarity(double similarity) {
  if (const auto bound = cache_->drift_bound()) stale_ = similarity < *bound;
}

void Row::apply(const std::int64_t* tokens, const double* scores, const double* entropies,
                double forward_ms, std::int64_t calls) {
  const Step step = *pending_;
  account(forward_ms, calls);
  const auto n = targets_.size();
  if (n == 0) {  // a post step of token editing: nothing masked to pick from
  } else if (selector_->picks_on_host()) {
    const std::vector<double> score(scores, scores + n);
    const std::vector<double> entropy =
        entropies ? std::vector<double>(entropies, entropies + n) : std::vector<double>();
    const std::vector<std::uint64_t> draw(targets_.begin(), targets_.end());
    for (const std::int64_t i : selector_->pick(score, entropy, draw, step.k, options_.seed,
                                                static_cast<std::uint64_t>(step_index_))) {
      commit(targets_[i], tokens[i]);
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      if (tokens[i] >= 0) commit(targets_[i], tokens[i]);
    }
  }
  finish_step();
}

void Row::apply_edits(const std::int64_t* candidates, const double* probabilities) {
  const auto n = edits_.size();
  std::vector<std::int64_t> current;
  current.reserve(n);
  for (const std::int64_t p : edits_) current.push_back(generated_[p]);
  for (const std::int64_t i :
       select_edits(current, std::vector<std::int64_t>(candidates, candidates + n),
                    std::vector<double>(probabilities, probabilities + n), editor_->threshold())) {
    commit(edits_[i], candidates[i]);
  }
}

void Row::apply_kept(at::Tensor rows, double forward_ms, std::int64_t calls) {
  account(forward_ms, calls);
  kept_ = std::move(rows);
  changed_since_forward_ = false;
  reveal_from_kept(revealed_);
  finish_step();
}

void Row::process(at::Tensor& rows, const std::vector<std::int64_t>& positions) const {
  if (options_.repeat_penalty != 1.0) {
    apply_repetition_penalty(rows, committed_ids(canvas_, config_.mask_id),
                             options_.repeat_penalty);
  }
  suppress_early_ends(rows, positions, options_.min_new_tokens, end_ids(config_));
}

// Candidates of `positions` from the kept output (row p of it predicts position p).
void Row::reveal_from_kept(const std::vector<std::int64_t>& positions) {
  if (positions.empty()) return;
  const auto n = static_cast<std::int64_t>(positions.size());
  const auto device = kept_.device();
  const auto longs = at::TensorOptions().dtype(at::kLong);
  const at::Tensor where = at::tensor(positions, longs);
  at::Tensor rows =
      kept_.index_select(0, where.to(device)).narrow(1, 0, config_.vocab_size).contiguous();
  process(rows, positions);
  const auto [tokens, scores] =
      ops::score(rows, at::full({n}, static_cast<std::int64_t>(options_.seed), longs).to(device),
                 where.to(device), at::full({n}, step_index_, longs).to(device), rule_);
  const at::Tensor host = tokens.cpu();
  for (std::int64_t i = 0; i < n; ++i) commit(positions[i], host.data_ptr<std::int64_t>()[i]);
}

void Row::commit(std::int64_t position, std::int64_t token) {
  generated_[position] = token;
  canvas_[prompt_len_ + position] = token;
  changed_since_forward_ = true;
  step_changed_ = true;
}

void Row::finish_step() {
  if (observer_) {
    observer_->on_step(StepEvent{step_index_, schedule_->planned_steps(), generated_});
  }
  ++step_index_;
  update_stream();
}

void Row::update_stream() {
  if (open_block_) {
    std::vector<std::int64_t> final_part = generated_;
    std::fill(final_part.begin() + open_block_->a, final_part.begin() + open_block_->b,
              config_.mask_id);
    emit_text(stream_.advance(final_part));
  } else {
    emit_text(stream_.advance(generated_));
  }
  stopped_ = stream_.hit_stop_string() || (options_.eos == EosPolicy::kStop && stream_.saw_eos());
}

void Row::emit_text(const std::string& text) {
  if (observer_ && !text.empty()) observer_->on_text(text);
}

GenerationResult Row::finish(double elapsed_ms) {
  stream_.advance(generated_);
  emit_text(stream_.finish());
  result_.text = stream_.text();
  result_.token_ids = stream_.tokens();
  result_.finish_reason = stream_.finished() ? "stop" : "length";
  result_.total_ms = elapsed_ms;
  return std::move(result_);
}

}  // namespace dlm::sampling
