#pragma once
// Token editing (LLaDA 2.1's token-to-token step, T2T; the remasking of issue 14): tokens
// committed earlier in the current block are read again at every later model call of the
// block and replaced by the model's candidate when that candidate differs and is likely
// enough. After the block's last mask is filled, a budget of extra calls keeps editing
// while edits still happen, so a block always ends.
#include <cstdint>
#include <memory>
#include <vector>

namespace dlm {
struct GenerateOptions;
}

namespace dlm::sampling {

// The positions (indices into `current`) to edit, ascending: those whose candidate differs
// from the current token and whose probability is strictly above `threshold` (LLaDA 2.1:
// p > editing_threshold and x != current). A negative candidate (none) never edits.
std::vector<std::int64_t> select_edits(const std::vector<std::int64_t>& current,
                                       const std::vector<std::int64_t>& candidates,
                                       const std::vector<double>& probabilities, double threshold);

// An editing row's policy: the threshold and the per-block budget of post steps.
class TokenEditor {
 public:
  TokenEditor(double threshold, std::int64_t max_post_steps)
      : threshold_(threshold), max_post_steps_(max_post_steps) {}
  double threshold() const { return threshold_; }
  // Whether a block whose masks are all filled gets another model call: the last call
  // changed the block (an unmasking step always does) and fewer than max_post_steps post
  // calls have run in it.
  bool wants_post_step(std::int64_t post_steps_done, bool last_call_changed) const {
    return last_call_changed && post_steps_done < max_post_steps_;
  }

 private:
  double threshold_;
  std::int64_t max_post_steps_;
};

// The editor of `options`; nullptr when --edit-threshold is off.
std::unique_ptr<TokenEditor> make_token_editor(const GenerateOptions& options);

}  // namespace dlm::sampling
