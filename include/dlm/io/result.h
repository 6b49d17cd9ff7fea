#pragma once
// The output record shared by `dlm generate --json` and `dlm batch` (see README
// "Output record").
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dlm {

struct GenerationResult {
  std::string text;                          // completion only, leading space kept
  std::optional<std::string> prompt;         // the prompt text, when a chat format rendered it
  std::vector<std::int64_t> prompt_token_ids;  // as fed to the model (bos included)
  std::vector<std::int64_t> token_ids;         // generated, up to the first eos
  std::string finish_reason = "length";        // "stop" when an eos was generated
  std::int64_t nfe = 0;                        // forward calls
  std::uint64_t seed = 0;
  std::string cache = "none";                  // key/value cache mode used
  std::int64_t cache_bytes = 0;                // its size (keys + values of every layer)
  double load_ms = 0.0;
  double forward_ms = 0.0;
  double total_ms = 0.0;
};

// One-line JSON object with the record's fields.
std::string to_json(const GenerationResult& result);

}  // namespace dlm
