#pragma once
// A causal (autoregressive) judge that scores generated text by perplexity, as GPT-2
// does in the MDLM and ReMDM papers: the completion is re-tokenized with the judge's own
// tokenizer and only its tokens are scored, each given the prompt and what precedes it.
// The shipped judge is models/kjv-judge.pt (scripts/train/train_judge.py). Torch stays in
// src/eval/judge.cpp.
#include <cstdint>
#include <string>
#include <string_view>

#include "dlm/model/checkpoint.h"

namespace dlm {

// Summed negative log-likelihood of some tokens; adds up over completions, so that a
// perplexity over many texts is token-weighted.
struct JudgeScore {
  double nll = 0.0;         // nats
  std::int64_t tokens = 0;  // tokens scored

  JudgeScore& operator+=(const JudgeScore& other) {
    nll += other.nll;
    tokens += other.tokens;
    return *this;
  }
  // exp(nll / tokens); NaN when nothing was scored.
  double perplexity() const;
};

class Judge {
 public:
  // Share of unknown ids above which the judge's tokenizer is said not to cover a text.
  static constexpr double kMaxUnknownShare = 0.1;

  // Wraps a loaded checkpoint; throws UsageError naming it unless its config is causal.
  explicit Judge(Checkpoint& checkpoint);

  // Throws UsageError when the judge's tokenizer cannot encode `text` (nothing, or more
  // than kMaxUnknownShare unknown ids) or gives ids its logits cannot score. `what`
  // names the text in the message ("prompt 3").
  void check_text(std::string_view text, const std::string& what) const;

  // The completion's tokens scored given the prompt: the judge tokenizes prompt and
  // prompt + completion (bos first when its config says add_bos); the tokens past their
  // common prefix are scored. Texts longer than max_seq_len are read through windows of
  // max_seq_len that keep half a window of context. An empty completion scores nothing.
  JudgeScore score(std::string_view prompt, std::string_view completion) const;

  const Checkpoint& checkpoint() const { return checkpoint_; }

 private:
  Checkpoint& checkpoint_;
};

}  // namespace dlm
