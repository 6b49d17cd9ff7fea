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
#include "dlm/sampling/sampler.h"

namespace dlm {

// One input line, parsed.
struct BatchRecord {
  std::int64_t line = 0;  // 1-based line number in the input
  std::string id;         // "id" or "custom_id"; "line-N" when absent
  std::string prompt;
  GenerateOptions options;
  std::string error;      // set: the record cannot run; its output is an error record
};

// Parses one line. Problems of the record (malformed JSON, no prompt, bad field types)
// go to `error`, never thrown. Settings are the registry's JSONL keys (OptionSpec::
// jsonl_keys); field names dlm does not know are added to `unknown`.
// A record without "seed" gets derive_seed(run_seed, id).
BatchRecord parse_batch_record(std::string_view text, std::int64_t line,
                               const GenerateOptions& defaults, std::uint64_t run_seed,
                               std::set<std::string>& unknown);

// The options of a record that does not name "steps": `options` with steps cut to
// max_new_tokens (as LLaDA's steps = gen_length default does). With the run's defaults:
// what a record without settings runs with.
GenerateOptions record_defaults(const GenerateOptions& options);

// Seed of a record without one: a hash of the run's seed and the record's id, cut to
// kMaxSeed so that the output record's seed reads back exactly (and runs as a record's seed).
std::uint64_t derive_seed(std::uint64_t run_seed, std::string_view id);

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

// The output line of a record: the output record plus id, line, error, elapsed_ms.
std::string batch_output_json(const BatchRecord& record, const GenerationResult& result,
                              double elapsed_ms);
std::string batch_error_json(const BatchRecord& record, const std::string& error);

}  // namespace dlm
