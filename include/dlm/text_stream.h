#pragma once
// Turns the canvas into streamed text: a token is final once it is committed with
// no mask before it; text stops at the first end-of-sequence token and never ends
// inside a UTF-8 sequence.
#include <cstdint>
#include <string>
#include <vector>

#include "dlm/tokenizer.h"
#include "dlm/utf8_stream.h"

namespace dlm {

class TextStream {
 public:
  TextStream(const Tokenizer& tokenizer, std::int64_t eos_id, std::int64_t mask_id);

  // Reads the generated span; returns the text that became final since the last call.
  std::string advance(const std::vector<std::int64_t>& generated);
  // End of generation: returns any held-back bytes.
  std::string finish();

  bool saw_eos() const { return saw_eos_; }
  const std::vector<std::int64_t>& tokens() const { return tokens_; }  // final, before eos
  const std::string& text() const { return text_; }                    // all emitted text

 private:
  const Tokenizer& tokenizer_;
  std::int64_t eos_id_;
  std::int64_t mask_id_;
  bool saw_eos_ = false;
  std::vector<std::int64_t> tokens_;
  std::string text_;
  Utf8Stream utf8_;
};

}  // namespace dlm
