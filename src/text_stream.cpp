#include "dlm/text_stream.h"

namespace dlm {

TextStream::TextStream(const Tokenizer& tokenizer, std::int64_t eos_id, std::int64_t mask_id)
    : tokenizer_(tokenizer), eos_id_(eos_id), mask_id_(mask_id) {}

std::string TextStream::advance(const std::vector<std::int64_t>& generated) {
  std::string bytes;
  while (!saw_eos_ && tokens_.size() < generated.size()) {
    const std::int64_t id = generated[tokens_.size()];
    if (id == mask_id_) break;
    if (id == eos_id_) {
      saw_eos_ = true;
      break;
    }
    tokens_.push_back(id);
    bytes += tokenizer_.piece_bytes(id);
  }
  std::string out = utf8_.push(bytes);
  text_ += out;
  return out;
}

std::string TextStream::finish() {
  std::string out = utf8_.finish();
  text_ += out;
  return out;
}

}  // namespace dlm
