#include "dlm/model/model_config.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "dlm/error.h"

namespace dlm {
namespace {

using nlohmann::json;

[[noreturn]] void invalid(const std::string& origin, const std::string& what) {
  throw UsageError(fmt::format("{}: invalid config.json: {}; re-export the checkpoint "
                               "(scripts/export/export_model.py)", origin, what));
}

template <typename T>
T required(const json& j, const char* key, const std::string& origin) {
  if (!j.contains(key) || j.at(key).is_null()) invalid(origin, fmt::format("'{}' is missing", key));
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    invalid(origin, fmt::format("'{}' has the wrong type ({})", key, j.at(key).dump()));
  }
}

}  // namespace

ModelConfig parse_model_config(const std::string& json_text, const std::string& origin) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::parse_error& e) {
    invalid(origin, fmt::format("not JSON ({})", e.what()));
  }
  if (!j.is_object()) invalid(origin, "not a JSON object");
  ModelConfig c;
  c.raw_json = json_text;
  c.format_version = required<int>(j, "format_version", origin);
  if (c.format_version != 1) {
    invalid(origin, fmt::format("format_version {} is not supported (this dlm reads 1)",
                                c.format_version));
  }
  c.family = j.value("family", std::string("llada"));
  c.name = j.value("name", std::string());
  c.vocab_size = required<std::int64_t>(j, "vocab_size", origin);
  if (c.vocab_size <= 0) invalid(origin, fmt::format("vocab_size {} is not positive", c.vocab_size));
  c.causal = j.value("causal", false);
  if (!c.causal || (j.contains("mask_token_id") && !j.at("mask_token_id").is_null())) {
    c.mask_id = required<std::int64_t>(j, "mask_token_id", origin);
  }
  c.eos_id = required<std::int64_t>(j, "eos_token_id", origin);
  c.pad_id = required<std::int64_t>(j, "pad_token_id", origin);
  c.bos_id = required<std::int64_t>(j, "bos_token_id", origin);
  if (j.contains("eot_token_id") && !j.at("eot_token_id").is_null()) {
    c.eot_id = required<std::int64_t>(j, "eot_token_id", origin);
  }
  c.add_bos = j.value("add_bos", true);
  c.max_seq_len = required<std::int64_t>(j, "max_seq_len", origin);
  if (c.max_seq_len <= 1) invalid(origin, fmt::format("max_seq_len {} is too small", c.max_seq_len));
  const auto logits = j.value("logits", std::string("aligned"));
  if (logits != "aligned" && logits != "shifted") {
    invalid(origin, fmt::format("logits '{}' must be 'aligned' or 'shifted'", logits));
  }
  c.shifted_logits = logits == "shifted";
  c.dtype = j.value("dtype", std::string("float32"));
  if (c.dtype != "float32" && c.dtype != "bfloat16" && c.dtype != "float16") {
    invalid(origin, fmt::format("dtype '{}' must be float32, bfloat16 or float16", c.dtype));
  }
  c.tokenizer = j.value("tokenizer", std::string("sentencepiece"));
  if (c.tokenizer != "sentencepiece" && c.tokenizer != "hf") {
    invalid(origin, fmt::format("tokenizer '{}' must be 'sentencepiece' or 'hf'", c.tokenizer));
  }
  if (j.contains("chat_format") && !j.at("chat_format").is_null()) {
    c.chat_format = required<std::string>(j, "chat_format", origin);
    if (c.chat_format != "llada" && c.chat_format != "chatml") {
      invalid(origin, fmt::format("chat_format '{}' must be 'llada', 'chatml' or null",
                                  c.chat_format));
    }
  }
  if (j.contains("chat_system") && !j.at("chat_system").is_null()) {
    c.chat_system = required<std::string>(j, "chat_system", origin);
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
