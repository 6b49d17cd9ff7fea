#include "cli/sampling_flags.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <string>

#include "cli/commands.h"
#include "dlm/error.h"
#include "dlm/sampling.h"

namespace dlm::cli {

std::int64_t parse_byte_size(const std::string& text, const std::string& option) {
  std::size_t used = 0;
  double value = -1;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string suffix = text.substr(used);
  for (auto& ch : suffix) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  double scale = 0;
  if (suffix.empty() || suffix == "B") scale = 1;
  if (suffix == "K" || suffix == "KB" || suffix == "KIB") scale = 1024.0;
  if (suffix == "M" || suffix == "MB" || suffix == "MIB") scale = 1024.0 * 1024;
  if (suffix == "G" || suffix == "GB" || suffix == "GIB") scale = 1024.0 * 1024 * 1024;
  const double bytes = value * scale;
  if (used == 0 || scale == 0 || !(bytes >= 0) || bytes > 9.0e18) {
    throw UsageError(fmt::format("{} '{}' is not a size; give bytes with an optional K, M or G "
                                 "suffix, for example 512M", option, text));
  }
  return static_cast<std::int64_t>(bytes);
}

void add_sampling_flags(CLI::App& cmd, SamplingFlags& f) {
  GenerateOptions& o = f.options;
  cmd.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // last one wins
  cmd.add_option("--config", f.config, "TOML preset (configs/*.toml); options given on the command line override it");
  cmd.add_option("-m,--model", f.model, "Checkpoint (.pt); default: the shipped models/dlm-kjv-tiny.pt");
  cmd.add_option("-n,--max-new-tokens", o.max_new_tokens, "Tokens to generate")->capture_default_str();
  cmd.add_option("--steps", o.steps, "Denoising steps, spread over the blocks")->capture_default_str();
  cmd.add_option("--block-length", o.block_length, "Tokens per block (semi-autoregressive schedule)")->capture_default_str();
  cmd.add_option("--temperature", o.temperature, "Sampling temperature; 0 is greedy")->capture_default_str();
  cmd.add_option("--seed", o.seed, "Random seed: the same seed gives the same tokens")->capture_default_str();
  cmd.add_option("--algorithm", f.algorithm, "Unmasking rule: confidence (low_confidence, maskgit_plus), margin (topk_margin), entropy, random, origin, ancestral (ddpm_cache)")->capture_default_str();
  cmd.add_option("--style", f.style, "Candidate draw and score: llada (Gumbel-max, unperturbed softmax) or dream (filtered categorical)")->capture_default_str();
  cmd.add_option("--schedule", f.schedule, "block (LLaDA semi-autoregressive) or timestep (Dream/MDLM linspace(1, eps, steps+1))")->capture_default_str();
  cmd.add_option("--eps", o.eps, "Final time of the timestep schedule")->capture_default_str();
  cmd.add_option("--top-k", o.top_k, "Keep the k most likely tokens (0: off)")->capture_default_str();
  cmd.add_option("--top-p", o.top_p, "Nucleus filter (1: off)")->capture_default_str();
  cmd.add_option("--threshold", f.threshold, "Fast-dLLM: commit the best and every other with score >= T; --steps is ignored");
  cmd.add_option("--factor", f.factor, "Fast-dLLM factor rule with factor F; --steps is ignored");
  cmd.add_option("--alg-temp", o.alg_temp, "Draw positions from softmax(score / alg_temp) instead of the top-k (0: off)")->capture_default_str();
  cmd.add_option("--cfg-scale", o.cfg_scale, "LLaDA unsupervised classifier-free guidance (0: off)")->capture_default_str();
  cmd.add_option("--eos", f.eos, "End of sequence: none, suppress, defer (commit last) or stop (end generation)")->capture_default_str();
  cmd.add_option("--stop", o.stop, "Stop string (repeatable): the text ends before it")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd.add_option("--cache", f.cache, "Key/value cache: auto (dual when the checkpoint supports it and the schedule is block), none, prefix or dual")->capture_default_str();
  cmd.add_option("--cache-refresh", o.cache_refresh, "Also refresh the cache every N model calls inside a block (0: at block boundaries only; 1: uncached result)")->capture_default_str();
  cmd.add_option("--max-memory", f.max_memory, "Refuse a run whose estimated memory (weights, cache, logits) exceeds this (bytes; K, M, G suffixes)");
  cmd.add_option("--pad-multiple", o.pad_multiple, "Canvas layout: forward calls pad the canvas to a multiple of this (batch invariance)")->capture_default_str();
  cmd.add_option("-t,--threads", f.runtime.threads, "CPU threads (0: every core)")->capture_default_str();
  cmd.add_option("--device", f.runtime.device, "cpu, cuda or cuda:N")->capture_default_str();
}

void notice_uncached(const GenerateOptions& o, const Checkpoint& checkpoint) {
  if (o.cache == CacheMode::kAuto && o.schedule == Schedule::kBlock && !checkpoint.supports_cache()) {
    spdlog::info("{} has no cache methods (forward_kv, forward_window): running uncached; "
                 "re-export it with scripts/export/export_model.py --from-checkpoint to enable the cache",
                 checkpoint.path());
  }
}

void resolve_sampling_flags(CLI::App& cmd, SamplingFlags& f) {
  if (!f.config.empty()) apply_config_file(cmd, f.config);
  f.options.algorithm = parse_algorithm(f.algorithm);
  f.options.style = parse_style(f.style);
  f.options.schedule = parse_schedule(f.schedule);
  f.options.eos = parse_eos_policy(f.eos);
  f.options.cache = parse_cache_mode(f.cache);
  if (!f.max_memory.empty()) f.options.max_memory = parse_byte_size(f.max_memory, "--max-memory");
  if (cmd.count("--threshold") > 0) f.options.threshold = f.threshold;
  if (cmd.count("--factor") > 0) f.options.factor = f.factor;
  if (f.runtime.threads < 0) {
    throw UsageError(fmt::format("--threads {} must be >= 0 (0: every core)", f.runtime.threads));
  }
}

}  // namespace dlm::cli
