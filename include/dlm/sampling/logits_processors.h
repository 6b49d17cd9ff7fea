#pragma once
// Hugging Face's logits processors that read a row's own state (its committed tokens, its
// positions), applied to the float32 logits rows of one request before dlm::score. The
// filters that read only the rule (top-k, top-p, min-p) are in scoring.h. The Python
// reference (scripts/reference/common.py, processed_row) does the same tensor operations.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace dlm {

// The distinct ids of `canvas` other than `mask_id` (the committed tokens: the prompt and
// the generated positions committed so far), ascending.
std::vector<std::int64_t> committed_ids(const std::vector<std::int64_t>& canvas,
                                        std::int64_t mask_id);

// RepetitionPenaltyLogitsProcessor: in every row of `rows` [N, V] (float32, in place), the
// logit l of each id in `present` becomes l < 0 ? l * penalty : l / penalty. Ids outside
// [0, V) are ignored; penalty 1 changes nothing.
void apply_repetition_penalty(at::Tensor& rows, const std::vector<std::int64_t>& present,
                              double penalty);

// min_new_tokens: row i of `rows` [N, V] predicts generated position positions[i]; rows of
// positions < min_new_tokens get -inf at every id of `end_ids` (eos, eot), in place.
void suppress_early_ends(at::Tensor& rows, const std::vector<std::int64_t>& positions,
                         std::int64_t min_new_tokens, const std::vector<std::int64_t>& end_ids);

}  // namespace dlm
