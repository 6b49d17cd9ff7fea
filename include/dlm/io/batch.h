#pragma once
// `dlm batch` records: parsing input lines (flat records or the OpenAI Batch envelope)
// against the run's defaults, per-record seeds, shards, and output records.
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "dlm/io/result.h"
#include "dlm/io/run_settings.h"
#include "dlm/sampling/sampler.h"
#include "dlm/text/chat_format.h"

namespace dlm {

// The OpenAI endpoints a record can address (its "url"; without one, "messages" means
// chat completions and "prompt" completions).
enum class Endpoint { kCompletions, kChatCompletions };
const char* endpoint_url(Endpoint endpoint);  // "/v1/completions", "/v1/chat/completions"

// Most samples ("n") one record may ask for (OpenAI's limit for completions).
constexpr std::int64_t kMaxSamples = 128;

// One input line, parsed.
struct BatchRecord {
  std::int64_t line = 0;  // 1-based line number in the input
  std::string id;         // "id" or "custom_id"; "line-N" when absent
  bool has_id = false;    // the record named its id (else "line-N")
  std::string input_hash; // fingerprint of the line's text (input_fingerprint)
  std::string prompt;     // "prompt", or once rendered (render_batch_prompt) the messages'
  std::optional<Conversation> messages;  // "messages" (OpenAI chat completions) instead of "prompt"
  bool envelope = false;  // the OpenAI Batch envelope: the request under "body"
  Endpoint endpoint = Endpoint::kCompletions;
  std::string model;      // "model" as given (echoed in OpenAI output; it selects nothing)
  std::int64_t samples = 1;  // "n": completions of this prompt, sample k seeded by sample_seed
  GenerateOptions options;
  std::string error;      // set: the record cannot run; its output is an error record
  std::string error_code = "invalid_request";  // the error's code in the OpenAI output format
};

// Parses one line. Problems of the record (malformed JSON, no prompt, bad field types)
// go to `error`, never thrown. Settings are the registry's JSONL keys (OptionSpec::
// jsonl_keys); field names dlm does not know are added to `unknown`.
// A record without "seed" gets derive_seed(run_seed, id).
BatchRecord parse_batch_record(std::string_view text, std::int64_t line,
                               const GenerateOptions& defaults, std::uint64_t run_seed,
                               std::set<std::string>& unknown);

// A record's input fingerprint, stored in its output record as "input_hash": FNV-1a 64 of
// the line's bytes, 16 hex digits. --resume matches a record without an id (line-N) by
// line and fingerprint, so that an input changed between runs is refused, not mixed.
std::string input_fingerprint(std::string_view line_text);

// The prompt text of a record with `messages`, in the checkpoint's chat format (plain when
// it has none); the record's `prompt` otherwise. Throws UsageError.
std::string render_batch_prompt(const BatchRecord& record, const ModelConfig& config);

// The options of a record that does not name "steps": `options` with steps cut to
// max_new_tokens (as LLaDA's steps = gen_length default does). With the run's defaults:
// what a record without settings runs with.
GenerateOptions record_defaults(const GenerateOptions& options);

// Seed of a record without one: a hash of the run's seed and the record's id, cut to
// kMaxSeed so that the output record's seed reads back exactly (and runs as a record's seed).
std::uint64_t derive_seed(std::uint64_t run_seed, std::string_view id);

// The seed of sample `sample` (from 0) of a record whose seed is `record_seed`: sample 0
// runs with the record's seed itself (so "n": 1 is a plain record), sample k > 0 with
// derive_seed(record_seed, "sample-k").
std::uint64_t sample_seed(std::uint64_t record_seed, std::int64_t sample);

// A deterministic subset of the records: shard `index` of `count` owns a record when
// fnv1a64(id) % count == index.
struct Shard {
  std::int64_t index = 0;
  std::int64_t count = 1;
};
Shard parse_shard(const std::string& spec);  // "I/N"; throws UsageError
// The shard of a Slurm job array task (step 1), from SLURM_ARRAY_TASK_{ID,MIN,COUNT,STEP};
// nullopt outside an array; UsageError for an array whose step is not 1.
std::optional<Shard> slurm_shard(const std::function<const char*(const char*)>& getenv);
bool in_shard(const Shard& shard, std::string_view id);

// The settings that decide a batch output's records (what --resume must match): every
// sampling option but --max-memory (it decides only which records run and how they are
// batched, never their tokens), the model's canonical path, the shard, the output
// format ("dlm" or "openai", as resolved) and --dtype.
RunSettings batch_settings(const GenerateOptions& options, const std::string& model,
                           const Shard& shard, const std::string& output_format,
                           const std::string& dtype);
// What an output whose settings file lacks a setting was written with: every sampling
// option's default (options added since), --output-format dlm (the only format before
// there was a choice) and --dtype auto. For check_resume_settings' `implicit`.
RunSettings implicit_batch_settings();

// What a run did with the records of its input (its shard): the progress line and the
// summary are both drawn from one tally, so they count the same records.
struct BatchCounts {
  std::size_t total = 0;    // records (non-blank lines) in the shard
  std::size_t done = 0;     // generated by this run
  std::size_t failed = 0;   // error records written by this run
  std::size_t skipped = 0;  // already in the output (--resume)
  std::size_t accounted() const { return done + failed + skipped; }
};
// "\r7/10 records (1 failed) | 12.3 tokens/s | ETA 4 s   " (for a terminal).
std::string progress_line(const BatchCounts& counts, double tokens_per_second, double eta_seconds);
// "batch: 5 done, 1 failed, 1 skipped (already in the output) of 10 | 12.3 tokens/s (...)".
std::string summary_line(const BatchCounts& counts, std::int64_t tokens, double seconds);

}  // namespace dlm
