#pragma once
// `dlm batch` output lines in its two formats, dlm's own (the `generate --json` record plus
// id, line, input_hash, elapsed_ms) and the OpenAI Batch API's, and how --resume reads
// either back.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dlm/io/batch.h"
#include "dlm/io/jsonl_output.h"
#include "dlm/io/result.h"

namespace dlm {

enum class OutputFormat { kDlm, kOpenAI };
std::string to_string(OutputFormat format);  // "dlm", "openai"

// What every output line of a run shares.
struct OutputContext {
  OutputFormat format = OutputFormat::kDlm;
  std::string model;         // OpenAI "model" for a record that names none
  std::int64_t created = 0;  // OpenAI "created": Unix seconds
};

// The line of a record that ran; `samples` holds its "n" results in sample order.
// dlm: the fields of sample 0, plus "n" and "samples" (index, text, token_ids,
// finish_reason, seed, nfe of each) when n > 1. OpenAI: {"id", "custom_id", "response":
// {"status_code": 200, "request_id", "body": a completion or chat.completion object with
// one choice per sample}, "error": null}.
std::string batch_output_json(const BatchRecord& record, const std::vector<GenerationResult>& samples,
                              double elapsed_ms, const OutputContext& context);
// The line of a record that could not run (record.error). OpenAI: "response" null and
// "error": {"code": record.error_code, "message": record.error}.
std::string batch_error_json(const BatchRecord& record, const OutputContext& context);

// The OpenAI line's "id": "batch_req_<line>_<input_hash>", unique per input line and what
// --resume reads the line and fingerprint back from.
std::string openai_line_id(const BatchRecord& record);

// An OutputKeyReader for both formats: OpenAI lines (with "custom_id") by custom_id and
// their "id", failed when "error" is set; dlm lines as read_dlm_output_key.
std::optional<OutputKey> read_batch_output_key(const std::string& line);

}  // namespace dlm
