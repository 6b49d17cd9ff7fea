#include "dlm/sampling/token_edit.h"

#include "dlm/sampling/options.h"

namespace dlm::sampling {

std::vector<std::int64_t> select_edits(const std::vector<std::int64_t>& current,
                                       const std::vector<std::int64_t>& candidates,
                                       const std::vector<double>& probabilities, double threshold) {
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < current.size(); ++i) {
    if (candidates[i] >= 0 && candidates[i] != current[i] && probabilities[i] > threshold) {
      out.push_back(static_cast<std::int64_t>(i));
    }
  }
  return out;
}

std::unique_ptr<TokenEditor> make_token_editor(const GenerateOptions& o) {
  if (!o.edit_threshold) return nullptr;
  return std::make_unique<TokenEditor>(*o.edit_threshold, o.max_post_steps);
}

}  // namespace dlm::sampling
