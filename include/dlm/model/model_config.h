#pragma once
// config.json of a checkpoint (format v1): vocabulary, special ids, lengths, logit
// alignment, family and tokenizer kind. See README "Checkpoint format v1".
#include <cstdint>
#include <optional>
#include <string>

namespace dlm {

// Parsed and validated config.json.
struct ModelConfig {
  int format_version = 1;
  std::string family;  // "llada", "dream", "mdlm", ...
  std::string name;
  std::int64_t vocab_size = 0;
  std::int64_t mask_id = -1;
  std::int64_t eos_id = -1;
  std::int64_t pad_id = -1;
  std::int64_t bos_id = -1;
  std::optional<std::int64_t> eot_id;
  bool add_bos = true;        // prepend bos to every prompt
  std::int64_t max_seq_len = 0;
  bool shifted_logits = false;  // Dream style: position i is predicted at output i - 1
  bool causal = false;          // an autoregressive judge: output i predicts token i + 1, no mask id
  std::string dtype = "float32";
  std::string tokenizer = "sentencepiece";  // "sentencepiece" (tokenizer.model) or "hf" (tokenizer.json)
  std::string chat_format;                 // "llada", "chatml", or empty: no chat format
  std::optional<std::string> chat_system;  // the system turn used when none is given
  std::string raw_json;  // the file as stored, for `dlm info`
};

// Parses config.json text; throws UsageError naming `origin` and the problem.
ModelConfig parse_model_config(const std::string& json_text, const std::string& origin);

}  // namespace dlm
