#pragma once
// Pre-tokenizers of a Hugging Face tokenizer.json: Split (a regex run with Oniguruma, the
// engine HF tokenizers itself uses, or a literal string), ByteLevel, and a Sequence of
// them. Each turns a list of pieces (views of the text) into a finer list.
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace dlm::hf {

using Pieces = std::vector<std::string_view>;

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by their parts; new text (a prefix space) is kept in `arena`.
  virtual void split(Pieces& pieces, std::deque<std::string>& arena) const = 0;
};

// Builds the pre-tokenizer of `spec` ("pre_tokenizer" of tokenizer.json; null: none);
// sets `byte_level` when it contains ByteLevel. Throws UsageError naming `origin` and the
// component for anything unsupported or malformed.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec, const std::string& origin,
                                                 bool& byte_level);

}  // namespace dlm::hf
