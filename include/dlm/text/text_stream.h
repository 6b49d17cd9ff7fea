#pragma once
// Turns the canvas into streamed text: a token is final once it is committed with
// no mask before it; text stops at the first end id (end of sequence, or end of turn for
// chat checkpoints) or before the first stop string, and never ends inside a UTF-8
// sequence. A tail that could still grow into a stop string is held back until it cannot.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dlm/tokenizer/tokenizer.h"

namespace dlm {

class TextStream {
 public:
  // `end_ids`: the ids that end the text (eos, and eot when the checkpoint has one).
  TextStream(const Tokenizer& tokenizer, std::vector<std::int64_t> end_ids, std::int64_t mask_id,
             std::vector<std::string> stop_strings = {});
  TextStream(const Tokenizer& tokenizer, std::int64_t eos_id, std::int64_t mask_id,
             std::vector<std::string> stop_strings = {})
      : TextStream(tokenizer, std::vector<std::int64_t>{eos_id}, mask_id, std::move(stop_strings)) {}

  // Reads the generated span; returns the text that became final since the last call.
  std::string advance(const std::vector<std::int64_t>& generated);
  // End of generation: returns any held-back bytes.
  std::string finish();

  // An end id (eos or eot) is final: the text ended there.
  bool saw_eos() const { return saw_eos_; }
  bool hit_stop_string() const { return hit_stop_; }
  bool finished() const { return saw_eos_ || hit_stop_; }
  // Final tokens before the first end id (and wholly before a stop string).
  const std::vector<std::int64_t>& tokens() const { return tokens_; }
  const std::string& text() const { return text_; }  // all emitted text

 private:
  std::size_t held_back() const;  // bytes at the end that may start a stop string
  std::string emit(std::size_t upto);

  const Tokenizer& tokenizer_;
  std::vector<std::int64_t> end_ids_;
  std::int64_t mask_id_;
  std::vector<std::string> stop_;
  bool saw_eos_ = false;
  bool hit_stop_ = false;
  std::size_t consumed_ = 0;         // positions of the generated span read so far
  std::vector<std::int64_t> tokens_;
  std::vector<std::size_t> token_end_;  // byte offset in raw_ where each token ends
  std::string raw_;                   // bytes of tokens_
  std::size_t emitted_ = 0;           // bytes of raw_ already handed out
  std::string text_;
};

}  // namespace dlm
