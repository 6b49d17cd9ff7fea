#include "dlm/model/model_config.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "dlm/error.h"
#include "dlm/io/json_guard.h"
#include "dlm/one_line.h"

namespace dlm {
namespace {

using nlohmann::json;

[[noreturn]] void invalid(const std::string& origin, const std::string& what) {
  throw UsageError(one_line(fmt::format("{}: invalid config.json: {}; re-export the checkpoint "
                                        "(scripts/export/export_model.py)", origin, what)));
}

// The integer under `key`: a JSON integer that fits int64 (not a float, not a string).
std::int64_t required_int(const json& j, const char* key, const std::string& origin) {
  if (!j.contains(key) || j.at(key).is_null()) invalid(origin, fmt::format("'{}' is missing", key));
  const auto v = json_int64(j.at(key));
  if (!v) invalid(origin, fmt::format("'{}' must be an integer, got {}", key, j.at(key).dump()));
  return *v;
}

// The string under `key`, or `fallback` when it is absent or null.
std::string optional_string(const json& j, const char* key, const std::string& fallback,
                            const std::string& origin) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  if (!j.at(key).is_string()) {
    invalid(origin, fmt::format("'{}' must be a string, got {}", key, j.at(key).dump()));
  }
  return j.at(key).get<std::string>();
}

bool optional_bool(const json& j, const char* key, bool fallback, const std::string& origin) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  if (!j.at(key).is_boolean()) {
    invalid(origin, fmt::format("'{}' must be true or false, got {}", key, j.at(key).dump()));
  }
  return j.at(key).get<bool>();
}

}  // namespace

ModelConfig parse_model_config(const std::string& json_text, const std::string& origin) {
  if (const auto deep = json_depth_problem(json_text)) invalid(origin, *deep);
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for numbers like 1e999
    invalid(origin, fmt::format("not JSON ({})", e.what()));
  }
  if (!j.is_object()) invalid(origin, "not a JSON object");
  ModelConfig c;
  c.raw_json = json_text;
  const std::int64_t version = required_int(j, "format_version", origin);
  if (version != 1) {
    invalid(origin, fmt::format("format_version {} is not supported (this dlm reads 1)", version));
  }
  c.family = optional_string(j, "family", "llada", origin);
  c.name = optional_string(j, "name", "", origin);
  c.vocab_size = required_int(j, "vocab_size", origin);
  if (c.vocab_size <= 0) invalid(origin, fmt::format("vocab_size {} is not positive", c.vocab_size));
  c.causal = optional_bool(j, "causal", false, origin);
  if (!c.causal || (j.contains("mask_token_id") && !j.at("mask_token_id").is_null())) {
    c.mask_id = required_int(j, "mask_token_id", origin);
  }
  c.eos_id = required_int(j, "eos_token_id", origin);
  c.pad_id = required_int(j, "pad_token_id", origin);
  c.bos_id = required_int(j, "bos_token_id", origin);
  if (j.contains("eot_token_id") && !j.at("eot_token_id").is_null()) {
    c.eot_id = required_int(j, "eot_token_id", origin);
  }
  c.add_bos = optional_bool(j, "add_bos", true, origin);
  c.max_seq_len = required_int(j, "max_seq_len", origin);
  if (c.max_seq_len <= 1) invalid(origin, fmt::format("max_seq_len {} is too small", c.max_seq_len));
  const auto logits = optional_string(j, "logits", "aligned", origin);
  if (logits != "aligned" && logits != "shifted") {
    invalid(origin, fmt::format("logits '{}' must be 'aligned' or 'shifted'", logits));
  }
  c.shifted_logits = logits == "shifted";
  c.dtype = optional_string(j, "dtype", "float32", origin);
  if (c.dtype != "float32" && c.dtype != "bfloat16" && c.dtype != "float16") {
    invalid(origin, fmt::format("dtype '{}' must be float32, bfloat16 or float16", c.dtype));
  }
  c.tokenizer = optional_string(j, "tokenizer", "sentencepiece", origin);
  if (c.tokenizer != "sentencepiece" && c.tokenizer != "hf") {
    invalid(origin, fmt::format("tokenizer '{}' must be 'sentencepiece' or 'hf'", c.tokenizer));
  }
  c.chat_format = optional_string(j, "chat_format", "", origin);
  if (!c.chat_format.empty()) {
    if (c.chat_format != "llada" && c.chat_format != "chatml") {
      invalid(origin, fmt::format("chat_format '{}' must be 'llada', 'chatml' or null",
                                  c.chat_format));
    }
  }
  if (j.contains("chat_system") && !j.at("chat_system").is_null()) {
    c.chat_system = optional_string(j, "chat_system", "", origin);
  }

  const std::pair<const char*, std::int64_t> ids[] = {
      {"mask_token_id", c.causal && c.mask_id < 0 ? 0 : c.mask_id}, {"eos_token_id", c.eos_id},
      {"pad_token_id", c.pad_id}, {"bos_token_id", c.bos_id},
      {"eot_token_id", c.eot_id.value_or(0)}};
  for (const auto& [key, id] : ids) {
    if (id < 0 || id >= c.vocab_size) {
      invalid(origin, fmt::format("{} {} is outside the vocabulary [0, {})", key, id, c.vocab_size));
    }
  }
  if (c.mask_id == c.pad_id) invalid(origin, "mask_token_id must differ from pad_token_id");
  return c;
}

}  // namespace dlm
