#pragma once
// The tokenizer interface: text to ids, and each id's bytes. Decoding is the
// concatenation of the ids' bytes, so the text of a growing prefix only grows.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dlm {

// A tokenizer loaded from a checkpoint. Implementations: sentencepiece (kind
// "sentencepiece", in a dlopen'ed module) and hf (kind "hf", Hugging Face tokenizer.json
// for byte-level BPE; its own library dlm_tokenizer), see src/tokenizer/.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Ids of `text`, without beginning- or end-of-sequence ids.
  virtual std::vector<std::int64_t> encode(std::string_view text) const = 0;
  // Number of ids.
  virtual std::int64_t size() const = 0;
  // The bytes `id` contributes to text: a word piece with its leading space, a raw
  // byte (byte fallback: possibly part of a UTF-8 sequence), or nothing (control ids).
  virtual const std::string& piece_bytes(std::int64_t id) const = 0;
  virtual std::string kind() const = 0;
  // The piece as the vocabulary spells it, for display: "Ġthe", "<|eot_id|>", "▁the".
  virtual std::string token_text(std::int64_t id) const { return piece_bytes(id); }

  // Concatenated bytes of `ids` (may end inside a UTF-8 sequence).
  std::string decode_bytes(const std::vector<std::int64_t>& ids) const;
};

// Builds the tokenizer of `kind` from its serialized model; throws UsageError naming
// `origin` when the kind is unknown or the model does not parse.
std::unique_ptr<Tokenizer> make_tokenizer(const std::string& kind, const std::string& model_bytes,
                                          const std::string& origin);

}  // namespace dlm
