#pragma once
// One request's generation, as wiring between its strategies: the schedule yields steps,
// the selector picks positions, the cache policy decides how each forward call runs. The
// batch driver (sampler.cpp) runs many rows through shared forward calls and scores them
// together; a row only says which logits rows it needs and commits what comes back.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "dlm/model/denoiser.h"
#include "dlm/io/result.h"
#include "dlm/sampling/sampler.h"
#include "dlm/sampling/cache_policy.h"
#include "dlm/sampling/schedule.h"
#include "dlm/sampling/selector.h"
#include "dlm/sampling/scoring.h"
#include "dlm/sampling/token_edit.h"
#include "dlm/text/text_stream.h"
#include "sampling/forward.h"

namespace dlm::sampling {

class Row {
 public:
  Row(const Denoiser& model, const Tokenizer& tokenizer, const std::vector<std::int64_t>& prompt_ids,
      const GenerateOptions& options, GenerationObserver* observer);

  // Finds the next step that needs a forward call, applying the steps that need none.
  // False when the generation is over.
  bool advance();

  // The pending step (after advance() returned true).
  const Step& step() const { return *pending_; }
  Pass pass() const { return stale_ ? Pass::kFull : cache_->pass(calls_in_block_); }
  // Elastic cache: a window pass's lowest key similarity over this row's inputs; below the
  // policy's bound, the next call is a full pass.
  void note_similarity(double similarity);
  bool wants_similarity() const { return cache_->drift_bound().has_value(); }
  // The canvas length the model sees: all of it, or with --suffix-window W (DPad's bounded
  // suffix) at most W positions past the end of the pending step's region.
  std::int64_t length() const;
  std::int64_t padded() const { return padded_length(length(), options_.pad_multiple); }
  // The canvas window [lo, hi) of a window pass: from the output row of the block's first
  // position (one early with shifted logits, so that its prediction is fresh) to the
  // policy's end.
  std::pair<std::int64_t, std::int64_t> window() const;
  // The canvases of the pending forward: the canvas, and with guidance the same with every
  // prompt position masked; and the cache slot of each.
  Canvases inputs() const;
  std::vector<CacheSlot>& caches() { return caches_; }

  // The generated positions whose logits the pending step needs, ascending, and the
  // output row (canvas index) that predicts each.
  const std::vector<std::int64_t>& targets() const { return targets_; }
  // Token editing: the positions committed earlier in the current block, re-read by the
  // pending step; scored(): targets() then these, the rows the driver gathers and scores.
  const std::vector<std::int64_t>& edit_targets() const { return edits_; }
  const std::vector<std::int64_t>& scored() const { return scored_; }
  std::int64_t out_row(std::int64_t position) const;
  // Whether the step keeps the targets' logits for later steps (MDLM's reuse) instead of
  // having them scored by the driver.
  bool keeps_output() const { return keep_; }

  const TokenRule& rule() const { return rule_; }
  // The logits processors of this request (--repeat-penalty over the committed tokens,
  // --min-new-tokens) on rows [N, vocab] float32 predicting `positions`, in place.
  void process(at::Tensor& rows, const std::vector<std::int64_t>& positions) const;
  const Selector& selector() const { return *selector_; }
  const GenerateOptions& options() const { return options_; }
  std::int64_t step_index() const { return step_index_; }
  std::int64_t vocab_size() const { return config_.vocab_size; }
  std::int64_t mask_id() const { return config_.mask_id; }

  // Completes the pending step. tokens[i] (and scores[i] for host-side selectors,
  // entropies[i] for those that need them) belong to targets()[i]; for selectors run in
  // dlm::commit, tokens[i] < 0 means not chosen.
  void apply(const std::int64_t* tokens, const double* scores, const double* entropies,
             double forward_ms, std::int64_t calls);
  // Token editing, before apply(): candidates[i] and their probabilities[i] (the confidence
  // rule's score) belong to edit_targets()[i].
  void apply_edits(const std::int64_t* candidates, const double* probabilities);
  // Completes the pending step of a row that keeps its output: rows [targets, V'] float32.
  void apply_kept(at::Tensor rows, double forward_ms, std::int64_t calls);

  GenerationResult finish(double elapsed_ms);

 private:
  void reveal_from_kept(const std::vector<std::int64_t>& positions);
  void account(double forward_ms, std::int64_t calls);
  void commit(std::int64_t position, std::int64_t token);
  void finish_step();
  // Hands the stream what is final: with token editing, the open block is not.
  void update_stream();
  void collect_targets(const Step& step);
  void emit_text(const std::string& text);
  Span span() const { return Span{generated_, config_.mask_id}; }

  const Denoiser& model_;
  const ModelConfig& config_;
  const GenerateOptions& options_;
  GenerationObserver* observer_;
  std::unique_ptr<Schedule> schedule_;
  std::unique_ptr<Selector> selector_;
  std::unique_ptr<CachePolicy> cache_;
  std::int64_t prompt_len_;
  std::vector<std::int64_t> canvas_;
  std::vector<std::int64_t> generated_;
  TextStream stream_;
  TokenRule rule_;
  GenerationResult result_;
  std::int64_t step_index_ = 0;  // over the whole generation, skipped steps included
  bool stopped_ = false;
  std::optional<Step> pending_;
  std::vector<std::int64_t> targets_;
  std::vector<std::int64_t> edits_;
  std::vector<std::int64_t> scored_;
  // Token editing: the block being edited (until its post steps end), post steps run in
  // it, and whether the last step changed the canvas.
  std::unique_ptr<TokenEditor> editor_;
  std::optional<Step> open_block_;
  std::int64_t post_steps_ = 0;
  bool step_changed_ = false;
  std::vector<std::int64_t> revealed_;  // a keeping reveal step: the drawn positions
  bool keep_ = false;
  // Key/value cache: the current block, model calls so far in it, each input's cache.
  std::int64_t block_ = 0;
  std::int64_t calls_in_block_ = 0;
  bool stale_ = false;  // elastic: the cache drifted, the next call refreshes it
  std::vector<CacheSlot> caches_;
  // MDLM's reuse of the last model output: rows of the whole span.
  at::Tensor kept_;
  bool changed_since_forward_ = true;
};

}  // namespace dlm::sampling
