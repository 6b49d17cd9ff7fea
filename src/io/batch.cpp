#include "dlm/io/batch.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "dlm/error.h"
#include "dlm/io/json_guard.h"
#include "dlm/one_line.h"
#include "dlm/sampling/rng.h"
#include "dlm/sampling/names.h"
#include "dlm/sampling/options.h"

namespace dlm {
namespace {

using nlohmann::json;

std::uint64_t fnv1a64(std::string_view s) {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (const unsigned char c : s) {
    h ^= c;
    h *= 0x100000001B3ULL;
  }
  return h;
}

// The texts the registry parses `spec` from, for the JSON `value` of record key `key`;
// "" or the message for a JSON type that does not fit (numbers as the registry writes them).
std::string jsonl_texts(const OptionSpec& spec, const std::string& key, const json& value,
                        std::vector<std::string>& texts) {
  try {
    switch (spec.type) {
      case ValueType::kInteger:
      case ValueType::kSize:
        // Integers only: a float would be truncated (4.9 -> 4) or, past int64, undefined.
        if (spec.type == ValueType::kSize && value.is_string()) {
          texts = {value.get<std::string>()};
        } else if (value.is_number_unsigned()) {
          texts = {std::to_string(value.get<std::uint64_t>())};  // the parser names the range
        } else if (value.is_number_integer()) {
          texts = {std::to_string(value.get<std::int64_t>())};
        } else if (value.is_number()) {
          return fmt::format("field \"{}\" must be an integer, got {}", key, value.dump());
        } else {
          return fmt::format("field \"{}\" has the wrong type ({})", key, value.dump());
        }
        break;
      case ValueType::kNumber:
      case ValueType::kOptionalNumber:
        texts = {fmt::format("{}", value.get<double>())};  // shortest text that reads back exactly
        break;
      case ValueType::kName:
        texts = {value.get<std::string>()};
        break;
      case ValueType::kTextList:
        texts = value.is_string() ? std::vector<std::string>{value.get<std::string>()}
                                  : value.get<std::vector<std::string>>();
        break;
    }
  } catch (const json::exception&) {
    return fmt::format("field \"{}\" has the wrong type ({})", key, value.dump());
  }
  return "";
}

const std::set<std::string>& known_fields() {
  static const std::set<std::string> names = [] {
    std::set<std::string> n{"id",  "custom_id", "prompt",    "messages", "method",
                            "url", "body",      "reference", "model",    "n"};
    for (const auto& spec : option_registry()) n.insert(spec.jsonl_keys.begin(), spec.jsonl_keys.end());
    return n;
  }();
  return names;
}

// Applies the per-record settings of `j` over `o` through the registry's JSONL keys (when
// a record has several keys of one option, the first listed wins). Returns an error
// message or "".
std::string apply_settings(const json& j, GenerateOptions& o) {
  for (const auto& spec : option_registry()) {
    for (auto key = spec.jsonl_keys.rbegin(); key != spec.jsonl_keys.rend(); ++key) {
      if (!j.contains(*key) || j.at(*key).is_null()) continue;
      std::vector<std::string> texts;
      const std::string error = jsonl_texts(spec, *key, j.at(*key), texts);
      if (!error.empty()) return error;
      try {
        spec.set(o, texts);
      } catch (const UsageError& e) {
        return e.what();
      }
    }
  }
  // A record that shortens the generation without naming steps keeps steps <= tokens,
  // as LLaDA's steps = gen_length default does.
  if (!j.contains("steps")) o = record_defaults(o);
  return "";
}

// One message's content: a string, or a list of parts of which only {"type": "text",
// "text": ...} are taken, joined with newlines (as vLLM joins text parts). "" or the error.
std::string message_content(const json& content, std::size_t index, std::string& out) {
  if (content.is_string()) {
    out = content.get<std::string>();
    return "";
  }
  if (!content.is_array()) {
    return fmt::format("message {}: \"content\" must be a string or a list of text parts", index);
  }
  out.clear();
  for (std::size_t k = 0; k < content.size(); ++k) {
    const json& part = content[k];
    const bool text = part.is_object() && part.contains("type") && part.at("type") == "text" &&
                      part.contains("text") && part.at("text").is_string();
    if (!text) {
      const std::string type = part.is_object() && part.contains("type") ? part.at("type").dump() : "none";
      return fmt::format("message {}: content part {} has type {}; only {{\"type\": \"text\", "
                         "\"text\": ...}} parts are supported", index, k + 1, type);
    }
    if (k > 0) out += '\n';
    out += part.at("text").get<std::string>();
  }
  return "";
}

// The conversation of a "messages" list (OpenAI /v1/chat/completions). "" or the error.
std::string parse_messages(const json& messages, Conversation& out) {
  if (!messages.is_array() || messages.empty()) {
    return "\"messages\" must be a non-empty list of {\"role\", \"content\"} objects";
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    if (!m.is_object() || !m.contains("role") || !m.at("role").is_string() || !m.contains("content")) {
      return fmt::format("message {} must be an object with \"role\" and \"content\"", i + 1);
    }
    ChatMessage message{m.at("role").get<std::string>(), ""};
    if (message.role != "system" && message.role != "user" && message.role != "assistant") {
      return fmt::format("message {}: role '{}' is not one of system, user, assistant", i + 1,
                         message.role);
    }
    const std::string error = message_content(m.at("content"), i + 1, message.content);
    if (!error.empty()) return error;
    out.push_back(std::move(message));
  }
  return "";
}

// The request's address: "method" (POST) and "url" (one of the endpoints), where given;
// sets the record's endpoint and `addressed` when "url" names one. "" or the error.
std::string check_address(const json& j, BatchRecord& r, bool& addressed) {
  if (j.contains("method") && !j.at("method").is_null() && j.at("method") != "POST") {
    r.error_code = "invalid_method";
    return fmt::format("method {} is not supported; OpenAI Batch requests are \"POST\"",
                       j.at("method").dump());
  }
  addressed = j.contains("url") && !j.at("url").is_null();
  if (!addressed) return "";
  for (const Endpoint e : {Endpoint::kCompletions, Endpoint::kChatCompletions}) {
    if (j.at("url") == endpoint_url(e)) {
      r.endpoint = e;
      return "";
    }
  }
  r.error_code = "invalid_url";
  return fmt::format("url {} is not supported; dlm batch serves {} and {}", j.at("url").dump(),
                     endpoint_url(Endpoint::kCompletions), endpoint_url(Endpoint::kChatCompletions));
}

// The request body's prompt or messages (as its endpoint takes them; without a "url",
// "messages" address chat completions), "model" and "n". "" or the error.
std::string parse_request(const json& body, bool addressed, BatchRecord& r) {
  const bool has_messages = body.contains("messages") && !body.at("messages").is_null();
  const bool has_prompt = body.contains("prompt") && !body.at("prompt").is_null();
  if (!addressed) r.endpoint = has_messages ? Endpoint::kChatCompletions : Endpoint::kCompletions;
  const char* completions = endpoint_url(Endpoint::kCompletions);
  const char* chat = endpoint_url(Endpoint::kChatCompletions);
  if (has_messages && has_prompt) return "both \"prompt\" and \"messages\"; give one";
  if (has_messages && r.endpoint == Endpoint::kCompletions) {
    return fmt::format("{} takes \"prompt\"; send \"messages\" to {}", completions, chat);
  }
  if (has_prompt && r.endpoint == Endpoint::kChatCompletions) {
    return fmt::format("{} takes \"messages\"; send \"prompt\" to {}", chat, completions);
  }
  if (has_messages) {
    Conversation messages;
    const std::string error = parse_messages(body.at("messages"), messages);
    if (!error.empty()) return error;
    r.messages = std::move(messages);
  } else if (has_prompt && body.at("prompt").is_array()) {
    return "\"prompt\" must be one string; a list of prompts is not supported: give each prompt "
           "its own record";
  } else if (!has_prompt || !body.at("prompt").is_string()) {
    return "missing \"prompt\" (a string) or \"messages\"";
  } else {
    r.prompt = body.at("prompt").get<std::string>();
  }
  if (body.contains("model") && !body.at("model").is_null()) {
    if (!body.at("model").is_string()) return "field \"model\" must be a string";
    r.model = body.at("model").get<std::string>();
  }
  if (body.contains("n") && !body.at("n").is_null()) {
    const json& n = body.at("n");
    const bool fits = n.is_number_integer() && n.get<std::int64_t>() >= 1 &&
                      n.get<std::int64_t>() <= kMaxSamples;
    if (!fits) {
      return fmt::format("field \"n\" must be an integer from 1 to {} (samples of the prompt), got {}",
                         kMaxSamples, n.dump());
    }
    r.samples = n.get<std::int64_t>();
  }
  return "";
}

}  // namespace

const char* endpoint_url(Endpoint endpoint) {
  return endpoint == Endpoint::kChatCompletions ? "/v1/chat/completions" : "/v1/completions";
}

std::uint64_t sample_seed(std::uint64_t record_seed, std::int64_t sample) {
  return sample == 0 ? record_seed : derive_seed(record_seed, fmt::format("sample-{}", sample));
}

std::string render_batch_prompt(const BatchRecord& record, const ModelConfig& config) {
  return record.messages ? render_for(config, *record.messages) : record.prompt;
}

GenerateOptions record_defaults(const GenerateOptions& options) {
  GenerateOptions o = options;
  o.steps = std::min(o.steps, std::max<std::int64_t>(o.max_new_tokens, 1));
  return o;
}

std::string input_fingerprint(std::string_view line_text) {
  return fmt::format("{:016x}", fnv1a64(line_text));
}

std::uint64_t derive_seed(std::uint64_t run_seed, std::string_view id) {
  return mix64(run_seed ^ mix64(fnv1a64(id))) & kMaxSeed;
}

namespace {

BatchRecord parse_record(std::string_view text, std::int64_t line, const GenerateOptions& defaults,
                         std::uint64_t run_seed, std::set<std::string>& unknown);

}  // namespace

BatchRecord parse_batch_record(std::string_view text, std::int64_t line,
                               const GenerateOptions& defaults, std::uint64_t run_seed,
                               std::set<std::string>& unknown) {
  BatchRecord r = parse_record(text, line, defaults, run_seed, unknown);
  r.error = one_line(r.error);  // a value echoed from the line may hold a newline
  return r;
}

namespace {

BatchRecord parse_record(std::string_view text, std::int64_t line, const GenerateOptions& defaults,
                         std::uint64_t run_seed, std::set<std::string>& unknown) {
  BatchRecord r;
  r.line = line;
  r.id = fmt::format("line-{}", line);
  r.input_hash = input_fingerprint(text);
  r.options = defaults;
  r.error_code = "invalid_json";
  if (const auto deep = json_depth_problem(text)) {
    r.error = fmt::format("line {}: {}", line, *deep);
    return r;
  }
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for numbers like 1e999
    r.error = fmt::format("line {}: malformed JSON ({})", line, e.what());
    return r;
  }
  if (!j.is_object()) {
    r.error = fmt::format("line {}: a record must be a JSON object", line);
    return r;
  }
  r.error_code = "invalid_request";
  for (const char* key : {"custom_id", "id"}) {
    if (j.contains(key) && !j.at(key).is_null()) {
      const json& v = j.at(key);
      r.id = v.is_string() ? v.get<std::string>() : v.dump();
      r.has_id = true;
    }
  }
  // The OpenAI Batch envelope keeps the request under "body", its address in "url".
  r.envelope = j.contains("body");
  if (r.envelope && !j.at("body").is_object()) {
    r.error = fmt::format("line {}: \"body\" must be an object (the request to {} or {})", line,
                          endpoint_url(Endpoint::kCompletions), endpoint_url(Endpoint::kChatCompletions));
    return r;
  }
  const json& body = r.envelope ? j.at("body") : j;
  static const std::set<std::string> envelope_fields{"custom_id", "id", "method", "url", "body"};
  for (const auto& [key, value] : j.items()) {
    if (!(r.envelope ? envelope_fields : known_fields()).count(key)) unknown.insert(key);
  }
  if (r.envelope) {
    for (const auto& [key, value] : body.items()) {
      if (!known_fields().count(key)) unknown.insert(key);
    }
  }
  bool addressed = false;
  if (const std::string error = check_address(j, r, addressed); !error.empty()) {
    r.error = fmt::format("line {}: {}", line, error);
    return r;
  }
  if (const std::string error = parse_request(body, addressed, r); !error.empty()) {
    r.error = fmt::format("line {}: {}", line, error);
    return r;
  }
  const bool has_seed = body.contains("seed") && !body.at("seed").is_null();
  const std::string error = apply_settings(body, r.options);
  if (!error.empty()) {
    r.error = fmt::format("line {}: {}", line, error);
    return r;
  }
  if (!has_seed) r.options.seed = derive_seed(run_seed, r.id);
  return r;
}

}  // namespace

Shard parse_shard(const std::string& spec) {
  // Strict digits on both sides (sscanf's %lld saturates 99999999999999999999 silently).
  const auto number = [](std::string_view text, std::int64_t& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && ec == std::errc() && end == text.data() + text.size();
  };
  const std::size_t slash = spec.find('/');
  std::int64_t index = -1, count = -1;
  if (slash == std::string::npos || !number(std::string_view(spec).substr(0, slash), index) ||
      !number(std::string_view(spec).substr(slash + 1), count) || count < 1 || index < 0 ||
      index >= count) {
    throw UsageError(fmt::format("--shard '{}' must be I/N with 0 <= I < N < 2^63, for example 0/4",
                                 spec));
  }
  Shard s;
  s.index = index;
  s.count = count;
  return s;
}

std::optional<Shard> slurm_shard(const std::function<const char*(const char*)>& getenv) {
  const char* id = getenv("SLURM_ARRAY_TASK_ID");
  if (!id || !*id) return std::nullopt;
  const char* min = getenv("SLURM_ARRAY_TASK_MIN");
  const char* count = getenv("SLURM_ARRAY_TASK_COUNT");
  const char* step = getenv("SLURM_ARRAY_TASK_STEP");
  if (!min || !count || (step && std::string(step) != "1")) {
    throw UsageError(fmt::format(
        "inside a Slurm job array with step {} dlm cannot number the shards; pass --shard I/N",
        step ? step : "?"));
  }
  try {
    return parse_shard(fmt::format("{}/{}", std::stoll(id) - std::stoll(min), count));
  } catch (const std::exception&) {
    throw UsageError("the SLURM_ARRAY_TASK_* variables do not name a shard; pass --shard I/N");
  }
}

bool in_shard(const Shard& shard, std::string_view id) {
  return static_cast<std::int64_t>(fnv1a64(id) % static_cast<std::uint64_t>(shard.count)) ==
         shard.index;
}

RunSettings batch_settings(const GenerateOptions& options, const std::string& model,
                           const Shard& shard, const std::string& output_format,
                           const std::string& dtype) {
  RunSettings s;
  for (const auto& spec : option_registry()) {
    if (spec.name != "max-memory") s[spec.flag()] = option_text(spec, options);
  }
  std::error_code ec;
  const std::filesystem::path canonical = std::filesystem::weakly_canonical(model, ec);
  s["--model"] = ec ? model : canonical.string();
  s["--shard"] = fmt::format("{}/{}", shard.index, shard.count);
  s["--output-format"] = output_format;
  s["--dtype"] = dtype;
  return s;
}

RunSettings implicit_batch_settings() {
  RunSettings s;
  const GenerateOptions defaults;
  for (const auto& spec : option_registry()) s[spec.flag()] = option_text(spec, defaults);
  s["--output-format"] = "dlm";
  s["--dtype"] = "auto";
  return s;
}

std::string progress_line(const BatchCounts& c, double tokens_per_second, double eta_seconds) {
  const std::string failed = c.failed > 0 ? fmt::format(" ({} failed)", c.failed) : "";
  return fmt::format("\r{}/{} records{} | {:.1f} tokens/s | ETA {:.0f} s   ", c.accounted(),
                     c.total, failed, tokens_per_second, eta_seconds);
}

std::string summary_line(const BatchCounts& c, std::int64_t tokens, double seconds) {
  return fmt::format("batch: {} done, {} failed, {} skipped (already in the output) of {} | "
                     "{:.1f} tokens/s ({} tokens in {:.1f} s)", c.done, c.failed, c.skipped,
                     c.total, seconds > 0 ? tokens / seconds : 0.0, tokens, seconds);
}

}  // namespace dlm
