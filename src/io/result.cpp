#include "dlm/io/result.h"

#include <nlohmann/json.hpp>

namespace dlm {

std::string to_json(const GenerationResult& r) {
  nlohmann::ordered_json j;
  j["text"] = r.text;
  if (r.prompt) j["prompt"] = *r.prompt;
  j["prompt_token_ids"] = r.prompt_token_ids;
  j["token_ids"] = r.token_ids;
  j["finish_reason"] = r.finish_reason;
  j["usage"] = {{"prompt_tokens", r.prompt_token_ids.size()},
                {"completion_tokens", r.token_ids.size()}};
  j["nfe"] = r.nfe;
  j["seed"] = r.seed;
  j["cache"] = {{"mode", r.cache}, {"bytes", r.cache_bytes}};
  j["timings_ms"] = {{"load", r.load_ms}, {"forward", r.forward_ms}, {"total", r.total_ms}};
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace dlm
