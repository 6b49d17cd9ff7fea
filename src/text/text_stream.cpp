#include "dlm/text/text_stream.h"

#include <algorithm>

#include "dlm/text/utf8_stream.h"

namespace dlm {

TextStream::TextStream(const Tokenizer& tokenizer, std::vector<std::int64_t> end_ids,
                       std::int64_t mask_id, std::vector<std::string> stop_strings)
    : tokenizer_(tokenizer), end_ids_(std::move(end_ids)), mask_id_(mask_id) {
  for (auto& s : stop_strings) {
    if (!s.empty()) stop_.push_back(std::move(s));
  }
}

std::string TextStream::advance(const std::vector<std::int64_t>& generated) {
  while (!finished() && consumed_ < generated.size()) {
    const std::int64_t id = generated[consumed_];
    if (id == mask_id_) break;
    ++consumed_;
    if (std::find(end_ids_.begin(), end_ids_.end(), id) != end_ids_.end()) {
      saw_eos_ = true;
      break;
    }
    tokens_.push_back(id);
    raw_ += tokenizer_.piece_bytes(id);
    token_end_.push_back(raw_.size());
  }
  if (!hit_stop_ && !stop_.empty()) {
    // Earliest stop string in the final text; only new bytes can start a new match.
    const std::size_t from = emitted_;
    std::size_t cut = std::string::npos;
    for (const auto& s : stop_) cut = std::min(cut, raw_.find(s, from));
    if (cut != std::string::npos) {
      hit_stop_ = true;
      raw_.resize(cut);
      std::size_t keep = 0;
      while (keep < token_end_.size() && token_end_[keep] <= cut) ++keep;
      tokens_.resize(keep);
      token_end_.resize(keep);
      return emit(raw_.size());
    }
  }
  const std::size_t ready = std::min(utf8_complete_prefix(raw_), raw_.size() - held_back());
  return emit(std::max(ready, emitted_));
}

std::size_t TextStream::held_back() const {
  if (hit_stop_) return 0;
  std::size_t hold = 0;
  for (const auto& s : stop_) {
    for (std::size_t len = std::min(s.size() - 1, raw_.size() - emitted_); len > hold; --len) {
      if (raw_.compare(raw_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  return hold;
}

std::string TextStream::emit(std::size_t upto) {
  std::string out = utf8_sanitize(std::string_view(raw_).substr(emitted_, upto - emitted_));
  emitted_ = upto;
  text_ += out;
  return out;
}

std::string TextStream::finish() { return emit(raw_.size()); }

}  // namespace dlm
