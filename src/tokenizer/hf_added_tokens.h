#pragma once
// Added tokens of a Hugging Face tokenizer.json (special or not): found in the text before
// pre-tokenization, leftmost first and longest among those starting there, with HF's
// lstrip, rstrip and single_word rules.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dlm::hf {

struct AddedToken {
  std::int64_t id = 0;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

// A part of the text: an added token's id, or text for the model (id < 0).
struct Segment {
  std::size_t start, end;
  std::int64_t id;
};

// Matches one set of added tokens (those matched on the raw text, or those matched on the
// normalized text) with a byte trie.
class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);
  bool empty() const { return tokens_.empty(); }
  // Cuts `text` into segments (HF's AddedVocabulary::find_matches).
  void split(std::string_view text, std::vector<Segment>& segments) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, std::int32_t>> children;
    std::int32_t token = -1;  // index into tokens_ of the token ending here
  };
  // The longest token starting at `at`: its index, or -1.
  std::int32_t longest_at(std::string_view text, std::size_t at, std::size_t& length) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_{1};
  bool first_byte_[256] = {};
};

}  // namespace dlm::hf
