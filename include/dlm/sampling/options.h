#pragma once
// The settings of one generation (GenerateOptions, every default inline) and the registry
// that declares each of them once: names, help, parser, model-free check, per-record JSONL
// keys and whether `dlm sweep` takes it as an axis. `dlm generate`, `dlm batch`, `dlm sweep`,
// TOML presets, batch records and the Python references all bind through the registry, so
// a new option is one GenerateOptions field plus one registry entry.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlm/sampling/names.h"

namespace dlm {

// Every setting of one generation, with its default (the CLI binds to these fields).
struct GenerateOptions {
  std::int64_t max_new_tokens = 128;
  std::int64_t steps = 128;
  std::int64_t block_length = 32;
  double temperature = 0.0;
  std::uint64_t seed = 0;            // at most kMaxSeed; `--seed -1` draws one (draw_seed)
  Algorithm algorithm = Algorithm::kConfidence;
  Style style = Style::kLlada;
  Schedule schedule = Schedule::kBlock;
  double eps = 1e-3;                 // timestep schedule: t runs from 1 down to eps
  std::int64_t top_k = 0;            // 0: off
  double top_p = 1.0;                // 1: off
  double min_p = 0.0;                // 0: off; Hugging Face's MinPLogitsWarper, after top-p/top-k
  // 1: off; Hugging Face's RepetitionPenaltyLogitsProcessor over the committed tokens (the
  // prompt and the generated positions committed so far): l < 0 ? l * R : l / R.
  double repeat_penalty = 1.0;
  std::optional<double> threshold;   // Fast-dLLM threshold rule
  std::optional<double> factor;      // Fast-dLLM factor rule
  std::optional<double> eb_gamma;    // EB-sampler: entropy bound per step
  double alg_temp = 0.0;             // > 0: draw positions from softmax(score / alg_temp)
  double cfg_scale = 0.0;            // > 0: LLaDA's unsupervised classifier-free guidance
  // Stop once the end of the text is final: steps after it cannot change the text.
  // Presets that reproduce a reference sampler (configs/llada.toml) set none.
  EosPolicy eos = EosPolicy::kStop;
  // Hugging Face's min_new_tokens: generated positions with index < N never take eos or eot
  // (their logits are -inf), so the text runs at least N tokens unless a stop string ends it.
  std::int64_t min_new_tokens = 0;
  std::vector<std::string> stop;     // stop strings
  // Canvas layout: every forward runs on the canvas right-padded to a multiple of this
  // (padding masked out as keys, positions explicit), alone or in a batch, so that a
  // request's arithmetic, and so its tokens, never depend on what it is batched with.
  std::int64_t pad_multiple = 16;
  // Key/value cache (block schedule only): the full pass at each block boundary refreshes
  // it and is itself a denoising step; cache_refresh > 0 also runs a full pass every that
  // many model calls inside a block (1: every call, exactly the uncached result).
  CacheMode cache = CacheMode::kAuto;
  std::int64_t cache_refresh = 0;
  // --cache elastic: after a window pass whose stable positions' last-layer keys moved to a
  // cosine similarity below this (against the cache), the next call is a full pass.
  double elastic_gamma = 0.9;
  // Bounded suffix (DPad): forward calls see the canvas only up to this many positions past
  // the current block's end (0: the whole canvas). Block schedule only.
  std::int64_t suffix_window = 0;
  // LLaDA 2.1's token editing (T2T; the remasking): a token committed earlier in
  // the current block is replaced by the model's candidate when that candidate differs and
  // its probability exceeds this (nullopt: off). Block schedule only.
  std::optional<double> edit_threshold;
  // Its budget: model calls per block after the block's last mask is filled, spent while a
  // call still edits something (0: edits ride only on the unmasking steps).
  std::int64_t max_post_steps = 16;
  // Refuse a run whose estimated memory (weights, key/value cache, one forward's logits
  // and activations) exceeds this many bytes; 0: no limit.
  std::int64_t max_memory = 0;
};

// How an option's value is written; decides its JSON type in batch records and in
// `dlm options --json`.
enum class ValueType {
  kInteger,         // a whole number
  kNumber,          // a real number
  kOptionalNumber,  // a real number, or `none` for off
  kName,            // one of a set of names (the parse_* of dlm/sampling.h)
  kSize,            // bytes, with an optional K, M or G suffix
  kTextList,        // repeatable text: every occurrence counts (a JSON string or list)
};

// One sampling option, declared once; every front end binds to it.
struct OptionSpec {
  std::string name;                     // long name without dashes; also its TOML key
  std::vector<std::string> aliases;     // other spellings, dashes included ("-n", "--temp")
  ValueType type = ValueType::kInteger;
  std::string help;
  std::vector<std::string> jsonl_keys;  // batch record keys; empty: not per record
  bool axis = false;                    // `dlm sweep` takes a comma-separated list
  std::string example;                  // a valid value other than the default
  // The field as text: one element, or one per element of a list; set() reads it back.
  std::function<std::vector<std::string>(const GenerateOptions&)> get;
  // Parses texts into the field (a list takes them all, otherwise the last wins);
  // throws UsageError naming the option and a valid example.
  std::function<void(GenerateOptions&, const std::vector<std::string>&)> set;
  // This field's own checks that need no model (UsageError, validate()'s message); the
  // checks across fields are in check_options. Empty: nothing to check alone.
  std::function<void(const GenerateOptions&)> check;

  std::string flag() const { return "--" + name; }  // "--top-p"
  std::string key() const;                            // snake_case: "top_p"
  std::string cli_names() const;                      // CLI11 spelling: "-n,--max-new-tokens"
  bool is_list() const { return type == ValueType::kTextList; }
};

// The largest seed: JSON readers (JavaScript, jq) keep integers up to 2^53 - 1 exactly, and a
// seed in an output record must read back as the seed that ran.
inline constexpr std::uint64_t kMaxSeed = (std::uint64_t{1} << 53) - 1;

// A fresh seed in [0, kMaxSeed] from std::random_device (`--seed -1`).
std::uint64_t draw_seed();

// Every sampling option, in GenerateOptions' field order.
const std::vector<OptionSpec>& option_registry();

// The entry spelled `name` (long name, with or without dashes, alias or snake_case key);
// nullptr when there is none.
const OptionSpec* find_option(std::string_view name);

// get() of `options` as one line: list elements joined by ", ".
std::string option_text(const OptionSpec& spec, const GenerateOptions& options);

// The most tokens (-n) and steps any run takes: 2^20. Checked before anything is sized
// by them (a block plan of 10^8 one-token blocks took 2.5 GB before it was refused).
inline constexpr std::int64_t kMaxTokens = std::int64_t{1} << 20;

// Every check of validate() that needs no model (no checkpoint, no prompt), with the same
// messages: the lengths contract, each field, then the combinations. Throws UsageError.
void check_options(const GenerateOptions& options);

// "512M", "2G", "1048576": bytes, with an optional K, M or G suffix (powers of 1024, an
// optional trailing B or iB). Throws UsageError naming `option`.
std::int64_t parse_byte_size(const std::string& text, const std::string& option);

}  // namespace dlm
