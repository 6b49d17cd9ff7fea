#include "dlm/sampling/options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

#include "dlm/error.h"
#include "sampling/option_parsers.h"

namespace dlm {
namespace {

using Texts = std::vector<std::string>;
using detail::require;

// Factories of entries by field type: they fill get and set; the table adds the rest.
OptionSpec base(const char* name, ValueType type) {
  OptionSpec s;
  s.name = name;
  s.type = type;
  return s;
}

OptionSpec integer(const char* name, std::int64_t GenerateOptions::*field) {
  OptionSpec s = base(name, ValueType::kInteger);
  s.get = [field](const GenerateOptions& o) { return Texts{std::to_string(o.*field)}; };
  s.set = [field, flag = s.flag()](GenerateOptions& o, const Texts& v) {
    o.*field = detail::parse_integer(flag, v.back());
  };
  return s;
}

OptionSpec number(const char* name, double GenerateOptions::*field) {
  OptionSpec s = base(name, ValueType::kNumber);
  s.get = [field](const GenerateOptions& o) { return Texts{fmt::format("{}", o.*field)}; };
  s.set = [field, flag = s.flag()](GenerateOptions& o, const Texts& v) {
    o.*field = detail::parse_number(flag, v.back());
  };
  return s;
}

OptionSpec optional_number(const char* name, std::optional<double> GenerateOptions::*field) {
  OptionSpec s = base(name, ValueType::kOptionalNumber);
  s.get = [field](const GenerateOptions& o) {
    return Texts{o.*field ? fmt::format("{}", *(o.*field)) : std::string("none")};
  };
  s.set = [field, flag = s.flag()](GenerateOptions& o, const Texts& v) {
    if (v.back() == "none") {
      (o.*field).reset();
    } else {
      o.*field = detail::parse_number(flag, v.back());
    }
  };
  return s;
}

template <typename E>
OptionSpec named(const char* name, E GenerateOptions::*field, E (*parse)(const std::string&)) {
  OptionSpec s = base(name, ValueType::kName);
  s.get = [field](const GenerateOptions& o) { return Texts{to_string(o.*field)}; };
  s.set = [field, parse](GenerateOptions& o, const Texts& v) { o.*field = parse(v.back()); };
  return s;
}

std::vector<OptionSpec> make_registry() {
  using O = GenerateOptions;
  std::vector<OptionSpec> r;
  const auto add = [&r](OptionSpec s, std::string help, std::string example,
                        std::vector<std::string> jsonl_keys = {}) -> OptionSpec& {
    s.help = std::move(help);
    s.example = std::move(example);
    s.jsonl_keys = std::move(jsonl_keys);
    r.push_back(std::move(s));
    return r.back();
  };

  // Aliases are the spellings users bring from llama.cpp (`llama-cli`, `llama-diffusion-cli`).
  add(integer("max-new-tokens", &O::max_new_tokens), "Tokens to generate", "256",
      {"max_new_tokens", "max_tokens", "max_completion_tokens"})
      .aliases = {"-n", "--n-predict"};
  auto& steps = add(integer("steps", &O::steps), "Denoising steps, spread over the blocks; without --steps, as many as -n (one token per step)", "64",
                    {"steps"});
  steps.aliases = {"--diffusion-steps"};
  steps.axis = true;
  auto& block_length = add(integer("block-length", &O::block_length),
                           "Tokens per block (semi-autoregressive schedule)", "16",
                           {"block_length"});
  block_length.aliases = {"--diffusion-block-length"};
  block_length.axis = true;
  auto& temperature = add(number("temperature", &O::temperature),
                          "Sampling temperature; 0 is greedy", "0.8", {"temperature"});
  temperature.aliases = {"--temp"};
  temperature.check = [](const O& o) {
    require(std::isfinite(o.temperature) && o.temperature >= 0,
            fmt::format("--temperature {} must be a finite number >= 0; try 0 (greedy) or 0.8",
                        o.temperature));
  };
  {
    OptionSpec seed = base("seed", ValueType::kInteger);
    seed.get = [](const O& o) { return Texts{std::to_string(o.seed)}; };
    seed.set = [](O& o, const Texts& v) { o.seed = detail::parse_seed("--seed", v.back()); };
    add(std::move(seed),
        "Random seed: the same seed gives the same tokens; -1 draws a fresh one (reported by "
        "--stats and --json); at most 2^53 - 1",
        "7", {"seed"})
        .aliases = {"-s"};
  }
  auto& algorithm = add(named("algorithm", &O::algorithm, &parse_algorithm),
                        "Unmasking rule: confidence (low_confidence, maskgit_plus), margin "
                        "(topk_margin), entropy, random, origin, ancestral (ddpm_cache); any case; "
                        "or llama.cpp's numbers 0-4 (origin, entropy, margin, random, confidence)",
                        "margin", {"algorithm"});
  algorithm.aliases = {"--diffusion-algorithm"};
  algorithm.axis = true;
  add(named("style", &O::style, &parse_style),
      "Candidate draw and score: llada (Gumbel-max, unperturbed softmax) or dream (filtered "
      "categorical)",
      "dream", {"style"});
  add(named("schedule", &O::schedule, &parse_schedule),
      "block (LLaDA semi-autoregressive) or timestep (Dream/MDLM linspace(1, eps, steps+1))",
      "timestep", {"schedule"});
  add(number("eps", &O::eps), "Final time of the timestep schedule", "0.0001", {"eps"})
      .aliases = {"--diffusion-eps"};
  add(integer("top-k", &O::top_k), "Keep the k most likely tokens (0: off)", "40", {"top_k"})
      .check = [](const O& o) {
    require(o.top_k >= 0, fmt::format("--top-k {} must be >= 0 (0 turns it off)", o.top_k));
  };
  add(number("top-p", &O::top_p), "Nucleus filter (1: off)", "0.95", {"top_p"}).check =
      [](const O& o) {
        require(o.top_p > 0 && o.top_p <= 1,
                fmt::format("--top-p {} is outside (0, 1]; try 0.95 (1 turns it off)", o.top_p));
      };
  add(number("min-p", &O::min_p),
      "Min-p filter (Hugging Face's MinPLogitsWarper): after temperature, top-p and top-k, drop "
      "tokens whose probability is below P times the most likely one's (0: off)",
      "0.05", {"min_p"})
      .check = [](const O& o) {
    require(std::isfinite(o.min_p) && o.min_p >= 0 && o.min_p <= 1,
            fmt::format("--min-p {} is outside [0, 1]; try 0.05 (0 turns it off)", o.min_p));
  };
  auto& repeat_penalty = add(number("repeat-penalty", &O::repeat_penalty),
                             "Repetition penalty (Hugging Face's RepetitionPenaltyLogitsProcessor) "
                             "on the logits of every token already committed (prompt and "
                             "generated): l < 0 ? l * R : l / R (1: off)",
                             "1.1", {"repeat_penalty", "repetition_penalty"});
  repeat_penalty.aliases = {"--repetition-penalty"};
  repeat_penalty.check = [](const O& o) {
    require(std::isfinite(o.repeat_penalty) && o.repeat_penalty > 0,
            fmt::format("--repeat-penalty {} must be a finite number > 0; try 1.1 (1 turns it off)",
                        o.repeat_penalty));
  };
  auto& threshold = add(optional_number("threshold", &O::threshold),
                        "Fast-dLLM: commit the best and every other with score >= T; --steps is "
                        "ignored ('none': off)",
                        "0.9", {"threshold"});
  threshold.axis = true;
  threshold.check = [](const O& o) {
    require(!o.threshold || (*o.threshold > 0 && *o.threshold <= 1),
            fmt::format("--threshold {} is outside (0, 1]; try 0.9", o.threshold.value_or(0)));
  };
  auto& factor = add(optional_number("factor", &O::factor),
                     "Fast-dLLM factor rule with factor F; --steps is ignored ('none': off)", "1",
                     {"factor"});
  factor.axis = true;
  factor.check = [](const O& o) {
    require(!o.factor || *o.factor > 0,
            fmt::format("--factor {} must be > 0; try 1", o.factor.value_or(0)));
  };
  auto& eb_gamma = add(optional_number("eb-gamma", &O::eb_gamma),
                       "EB-sampler: each step commits positions best score first while the sum "
                       "of their entropies minus the largest stays <= G (nats; at least one); "
                       "--steps is ignored ('none': off)",
                       "0.1", {"eb_gamma"});
  eb_gamma.axis = true;
  eb_gamma.check = [](const O& o) {
    require(!o.eb_gamma || (std::isfinite(*o.eb_gamma) && *o.eb_gamma >= 0),
            fmt::format("--eb-gamma {} must be a finite number >= 0; try 0.1",
                        o.eb_gamma.value_or(0)));
  };
  auto& alg_temp = add(number("alg-temp", &O::alg_temp),
                       "Draw positions from softmax(score / alg_temp) instead of the top-k (0: off)",
                       "0.5", {"alg_temp"});
  alg_temp.axis = true;
  alg_temp.check = [](const O& o) {
    require(std::isfinite(o.alg_temp) && o.alg_temp >= 0,
            fmt::format("--alg-temp {} must be >= 0 (0 turns it off)", o.alg_temp));
  };
  add(number("cfg-scale", &O::cfg_scale), "LLaDA unsupervised classifier-free guidance (0: off)",
      "1.5", {"cfg_scale"})
      .check = [](const O& o) {
    require(std::isfinite(o.cfg_scale) && o.cfg_scale >= 0,
            fmt::format("--cfg-scale {} must be >= 0 (0 turns guidance off)", o.cfg_scale));
  };
  add(named("eos", &O::eos, &parse_eos_policy),
      "End of sequence: stop (end generation once the end of the text is final), none (run "
      "every step, as LLaDA's reference), suppress, or defer (commit last)",
      "none",
      {"eos"});
  add(integer("min-new-tokens", &O::min_new_tokens),
      "No end of sequence (eos or eot) at the first N generated positions, so the text runs at "
      "least N tokens (Hugging Face's min_new_tokens; 0: off)",
      "16", {"min_new_tokens", "min_tokens"})
      .check = [](const O& o) {
    require(o.min_new_tokens >= 0,
            fmt::format("--min-new-tokens {} must be >= 0 (0 turns it off); try 16",
                        o.min_new_tokens));
  };
  {
    OptionSpec stop = base("stop", ValueType::kTextList);
    stop.get = [](const O& o) { return o.stop; };
    stop.set = [](O& o, const Texts& v) { o.stop = v; };
    stop.check = [](const O& o) {
      for (const auto& s : o.stop) require(!s.empty(), "--stop needs a non-empty string");
    };
    add(std::move(stop), "Stop string (repeatable): the text ends before it", "Amen", {"stop"});
  }
  add(integer("pad-multiple", &O::pad_multiple),
      "Canvas layout: forward calls pad the canvas to a multiple of this (batch invariance)", "32")
      .check = [](const O& o) {
    require(o.pad_multiple >= 1 && o.pad_multiple <= 4096,
            fmt::format("--pad-multiple {} is outside [1, 4096]; try 16", o.pad_multiple));
  };
  add(named("cache", &O::cache, &parse_cache_mode),
      "Key/value cache: auto (dual when the checkpoint supports it and the schedule is block), "
      "none, prefix, dual or elastic (dual refreshed when its keys drift)",
      "dual")
      .axis = true;
  add(integer("cache-refresh", &O::cache_refresh),
      "Also refresh the cache every N model calls inside a block (0: at block boundaries only; "
      "1: uncached result)",
      "4")
      .check = [](const O& o) {
    require(o.cache_refresh >= 0,
            fmt::format("--cache-refresh {} must be >= 0 (0: refresh at block boundaries only)",
                        o.cache_refresh));
  };
  auto& elastic_gamma = add(number("elastic-gamma", &O::elastic_gamma),
                            "--cache elastic: refresh the cache (a full pass) after a window pass "
                            "in which a stable position's last-layer key fell below this cosine "
                            "similarity to its cached key",
                            "0.95", {"elastic_gamma"});
  elastic_gamma.axis = true;
  elastic_gamma.check = [](const O& o) {
    require(std::isfinite(o.elastic_gamma) && o.elastic_gamma >= -1 && o.elastic_gamma <= 1,
            fmt::format("--elastic-gamma {} is outside [-1, 1] (a cosine similarity); try 0.9",
                        o.elastic_gamma));
  };
  auto& suffix_window = add(integer("suffix-window", &O::suffix_window),
                            "Bounded suffix (DPad): forward calls see at most W masked positions "
                            "past the current block (0: the whole canvas); block schedule only",
                            "32", {"suffix_window"});
  suffix_window.axis = true;
  suffix_window.check = [](const O& o) {
    require(o.suffix_window >= 0,
            fmt::format("--suffix-window {} must be >= 0 (0: the whole canvas); try 32",
                        o.suffix_window));
  };
  auto& edit_threshold = add(optional_number("edit-threshold", &O::edit_threshold),
                             "Token editing (LLaDA 2.1, the remasking of issue 14): replace a "
                             "token committed earlier in the current block by the model's "
                             "candidate when it differs and its probability is > E ('none': off); "
                             "block schedule only",
                             "0.9", {"edit_threshold"});
  edit_threshold.aliases = {"--remask", "--editing-threshold"};
  edit_threshold.axis = true;
  edit_threshold.check = [](const O& o) {
    require(!o.edit_threshold || (std::isfinite(*o.edit_threshold) && *o.edit_threshold >= 0 &&
                                  *o.edit_threshold < 1),
            fmt::format("--edit-threshold {} is outside [0, 1) (a probability the new token must "
                        "exceed); try 0.9",
                        o.edit_threshold.value_or(0)));
  };
  auto& max_post_steps = add(integer("max-post-steps", &O::max_post_steps),
                             "Token editing's budget: model calls per block after its last mask "
                             "is filled, while each still edits (0: edit only on unmasking steps)",
                             "4", {"max_post_steps"});
  max_post_steps.check = [](const O& o) {
    require(o.max_post_steps >= 0 && o.max_post_steps <= 1024,
            fmt::format("--max-post-steps {} is outside [0, 1024] (extra model calls per block); "
                        "try 16",
                        o.max_post_steps));
  };
  {
    OptionSpec memory = base("max-memory", ValueType::kSize);
    memory.get = [](const O& o) { return Texts{std::to_string(o.max_memory)}; };
    memory.set = [](O& o, const Texts& v) { o.max_memory = parse_byte_size(v.back(), "--max-memory"); };
    memory.check = [](const O& o) {
      require(o.max_memory >= 0,
              fmt::format("--max-memory {} must be >= 0 (0: no limit)", o.max_memory));
    };
    add(std::move(memory),
        "Refuse a run whose estimated memory (weights, cache, logits) exceeds this (bytes; K, M, "
        "G suffixes; 0: no limit)",
        "512M");
  }
  return r;
}

std::string strip_dashes(std::string_view s) {
  while (!s.empty() && s.front() == '-') s.remove_prefix(1);
  return std::string(s);
}

}  // namespace

std::string OptionSpec::key() const {
  std::string k = name;
  for (auto& ch : k) ch = ch == '-' ? '_' : ch;
  return k;
}

std::string OptionSpec::cli_names() const {
  std::string names;
  for (const auto& a : aliases) names += a + ",";
  return names + flag();
}

const std::vector<OptionSpec>& option_registry() {
  static const std::vector<OptionSpec> registry = make_registry();
  return registry;
}

const OptionSpec* find_option(std::string_view name) {
  const std::string bare = strip_dashes(name);
  for (const auto& spec : option_registry()) {
    if (bare == spec.name || bare == spec.key()) return &spec;
    for (const auto& a : spec.aliases) {
      if (bare == strip_dashes(a)) return &spec;
    }
  }
  return nullptr;
}

std::string option_text(const OptionSpec& spec, const GenerateOptions& options) {
  return fmt::format("{}", fmt::join(spec.get(options), ", "));
}

}  // namespace dlm
