#include "dlm/sampling/logits_processors.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace dlm {
namespace {

// The ids of `ids` within [0, vocab) as an int64 tensor on `device`; undefined when none.
at::Tensor id_tensor(const std::vector<std::int64_t>& ids, std::int64_t vocab, c10::Device device) {
  std::vector<std::int64_t> kept;
  for (const auto id : ids) {
    if (id >= 0 && id < vocab) kept.push_back(id);
  }
  if (kept.empty()) return {};
  return at::tensor(kept, at::TensorOptions().dtype(at::kLong)).to(device);
}

}  // namespace

std::vector<std::int64_t> committed_ids(const std::vector<std::int64_t>& canvas,
                                        std::int64_t mask_id) {
  std::vector<std::int64_t> ids;
  for (const auto id : canvas) {
    if (id != mask_id) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

void apply_repetition_penalty(at::Tensor& rows, const std::vector<std::int64_t>& present,
                              double penalty) {
  if (penalty == 1.0 || rows.numel() == 0) return;
  const at::Tensor ids = id_tensor(present, rows.size(1), rows.device());
  if (!ids.defined()) return;
  const at::Tensor logits = rows.index_select(1, ids);
  rows.index_copy_(1, ids, at::where(logits < 0, logits * penalty, logits / penalty));
}

void suppress_early_ends(at::Tensor& rows, const std::vector<std::int64_t>& positions,
                         std::int64_t min_new_tokens, const std::vector<std::int64_t>& end_ids) {
  if (min_new_tokens <= 0) return;
  const at::Tensor ends = id_tensor(end_ids, rows.size(1), rows.device());
  if (!ends.defined()) return;
  for (std::size_t i = 0; i < positions.size(); ++i) {
    if (positions[i] < min_new_tokens) {
      rows.select(0, static_cast<std::int64_t>(i)).index_fill_(0, ends, -INFINITY);
    }
  }
}

}  // namespace dlm
