#include "dlm/io/batch_output.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

namespace dlm {
namespace {

using ordered_json = nlohmann::ordered_json;

std::string dump(const ordered_json& j) {
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);  // invalid UTF-8: U+FFFD
}

// The OpenAI response body: a text_completion or a chat.completion with a choice per sample.
ordered_json openai_body(const BatchRecord& r, const std::vector<GenerationResult>& samples,
                         const OutputContext& context) {
  const bool chat = r.endpoint == Endpoint::kChatCompletions;
  ordered_json body;
  body["id"] = fmt::format("{}-{}-{}", chat ? "chatcmpl" : "cmpl", r.line, r.input_hash);
  body["object"] = chat ? "chat.completion" : "text_completion";
  body["created"] = context.created;
  body["model"] = r.model.empty() ? context.model : r.model;
  body["choices"] = ordered_json::array();
  std::size_t completion_tokens = 0;
  for (std::size_t k = 0; k < samples.size(); ++k) {
    const GenerationResult& s = samples[k];
    ordered_json choice;
    choice["index"] = k;
    if (chat) {
      choice["message"] = {{"role", "assistant"}, {"content", s.text}, {"refusal", nullptr}};
    } else {
      choice["text"] = s.text;
    }
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = s.finish_reason;
    body["choices"].push_back(std::move(choice));
    completion_tokens += s.token_ids.size();
  }
  const std::size_t prompt_tokens = samples.empty() ? 0 : samples[0].prompt_token_ids.size();
  body["usage"] = {{"prompt_tokens", prompt_tokens},
                   {"completion_tokens", completion_tokens},
                   {"total_tokens", prompt_tokens + completion_tokens}};
  return body;
}

}  // namespace

std::string to_string(OutputFormat format) {
  return format == OutputFormat::kOpenAI ? "openai" : "dlm";
}

std::string openai_line_id(const BatchRecord& record) {
  return fmt::format("batch_req_{}_{}", record.line, record.input_hash);
}

std::string batch_output_json(const BatchRecord& record, const std::vector<GenerationResult>& samples,
                              double elapsed_ms, const OutputContext& context) {
  if (context.format == OutputFormat::kOpenAI) {
    ordered_json out;
    out["id"] = openai_line_id(record);
    out["custom_id"] = record.id;
    out["response"] = {{"status_code", 200},
                       {"request_id", fmt::format("req_{}_{}", record.line, record.input_hash)},
                       {"body", openai_body(record, samples, context)}};
    out["error"] = nullptr;
    return dump(out);
  }
  ordered_json out;
  out["id"] = record.id;
  out["line"] = record.line;
  out["input_hash"] = record.input_hash;
  const ordered_json first = ordered_json::parse(to_json(samples.at(0)));  // outlives the loop
  for (const auto& [key, value] : first.items()) out[key] = value;
  if (samples.size() > 1) {
    out["n"] = samples.size();
    out["samples"] = ordered_json::array();
    for (std::size_t k = 0; k < samples.size(); ++k) {
      const GenerationResult& s = samples[k];
      out["samples"].push_back({{"index", k}, {"text", s.text}, {"token_ids", s.token_ids},
                                {"finish_reason", s.finish_reason}, {"seed", s.seed}, {"nfe", s.nfe}});
    }
  }
  out["elapsed_ms"] = elapsed_ms;
  return dump(out);
}

std::string batch_error_json(const BatchRecord& record, const OutputContext& context) {
  ordered_json out;
  if (context.format == OutputFormat::kOpenAI) {
    out["id"] = openai_line_id(record);
    out["custom_id"] = record.id;
    out["response"] = nullptr;
    out["error"] = {{"code", record.error_code}, {"message", record.error}};
    return dump(out);
  }
  out["id"] = record.id;
  out["line"] = record.line;
  out["input_hash"] = record.input_hash;
  out["text"] = "";
  out["token_ids"] = ordered_json::array();
  out["finish_reason"] = "error";
  out["error"] = record.error;
  out["elapsed_ms"] = 0.0;
  return dump(out);
}

std::optional<OutputKey> read_batch_output_key(const std::string& line) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  if (!j.is_object() || !j.contains("custom_id")) return read_dlm_output_key(line);
  if (!j.at("custom_id").is_string()) return std::nullopt;
  OutputKey key;
  key.id = j.at("custom_id").get<std::string>();
  key.failed = j.contains("error") && !j.at("error").is_null();
  // "batch_req_<line>_<input_hash>"
  const std::string id = j.contains("id") && j.at("id").is_string() ? j.at("id").get<std::string>() : "";
  constexpr std::string_view prefix = "batch_req_";
  const std::size_t sep = id.find('_', prefix.size());
  std::int64_t number = 0;
  if (id.rfind(prefix, 0) == 0 && sep != std::string::npos) {
    const char* first = id.data() + prefix.size();
    const auto [end, ec] = std::from_chars(first, id.data() + sep, number);
    if (ec == std::errc() && end == id.data() + sep) {
      key.line = number;
      key.input_hash = id.substr(sep + 1);
    }
  }
  return key;
}

}  // namespace dlm
