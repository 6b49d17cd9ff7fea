// `dlm sweep`: a grid of sampling settings run over a prompt set; speed and quality per
// cell, written to a directory (resumable) and summed up in a Markdown table and a plot.
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "dlm/error.h"
#include "dlm/model_paths.h"
#include "dlm/sweep.h"
#include "dlm/sweep_runner.h"

namespace dlm::cli {
namespace {

struct SweepCommand {
  SweepSettings settings;
  std::string config;
  // Grid axes as given: comma-separated lists.
  std::string steps = "8,16,32,64";
  std::string block_length = "32";
  std::string algorithm = "confidence";
  std::string threshold = "none";
  std::string factor = "none";
  std::string alg_temp = "none";
  std::string cache = "none";
  // Single-valued strategies by name.
  std::string style = "llada";
  std::string schedule = "block";
  std::string eos = "none";
  bool no_plot = false;
  LogOptions log;
};

void resolve(SweepCommand& c) {
  SweepSettings& s = c.settings;
  s.grid.steps = parse_int_axis("--steps", c.steps);
  s.grid.block_length = parse_int_axis("--block-length", c.block_length);
  s.grid.algorithm = parse_algorithm_axis(c.algorithm);
  s.grid.threshold = parse_optional_axis("--threshold", c.threshold);
  s.grid.factor = parse_optional_axis("--factor", c.factor);
  s.grid.alg_temp = parse_optional_axis("--alg-temp", c.alg_temp);
  s.grid.cache = parse_cache_axis(c.cache);
  s.base.style = parse_style(c.style);
  s.base.schedule = parse_schedule(c.schedule);
  s.base.eos = parse_eos_policy(c.eos);
  s.plot = !c.no_plot;
  if (s.runtime.threads < 0) {
    throw UsageError(fmt::format("--threads {} must be >= 0 (0: every core)", s.runtime.threads));
  }
  if (s.model.empty()) s.model = default_model_path();
  if (s.judge.empty()) s.judge = default_judge_path();
}

int run(SweepCommand& c, CLI::App& cmd) {
  if (!c.config.empty()) apply_config_file(cmd, c.config);
  apply_log_options(c.log);
  resolve(c);
  const SweepSummary summary = run_sweep(c.settings);
  std::cout << summary.markdown << std::flush;
  return 0;
}

}  // namespace

Runner add_sweep(CLI::App& app) {
  auto c = std::make_shared<SweepCommand>();
  SweepSettings& s = c->settings;
  s.base.max_new_tokens = 64;
  CLI::App* cmd = app.add_subcommand("sweep", "Run a grid of sampling settings over a prompt set: speed, judge perplexity and diversity per cell, as CSV, JSON, a table and a plot");
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("--config", c->config, "TOML preset; keys are the long option names (lists as strings: steps = \"8,16\")");
  cmd->add_option("-m,--model", s.model, "Denoiser checkpoint; default: the shipped models/dlm-kjv-tiny.pt");
  cmd->add_option("--judge", s.judge, "Causal judge checkpoint for perplexity; default: the shipped models/kjv-judge.pt ($DLM_JUDGE overrides)");
  cmd->add_option("-i,--prompts", s.prompts, "Prompt set: JSONL, one {\"prompt\", \"id\", \"reference\"} per line (scripts/data/heldout_prompts.jsonl)")->required();
  cmd->add_option("-o,--out", s.out_dir, "Output directory: cells.jsonl (resume point), sweep.csv, sweep.json, sweep.png")->required();
  cmd->add_option("--limit", s.limit, "Use the first N prompts (0: all)")->capture_default_str();
  cmd->add_option("--repeats", s.repeats, "Timed runs of every prompt per cell (tokens/s is their median)")->capture_default_str();
  cmd->add_option("--batch-size", s.batch_size, "Prompts generated together per call (1: one at a time)")->capture_default_str();
  // Grid axes.
  cmd->add_option("--steps", c->steps, "Axis: denoising steps")->capture_default_str();
  cmd->add_option("--block-length", c->block_length, "Axis: tokens per block")->capture_default_str();
  cmd->add_option("--algorithm", c->algorithm, "Axis: unmasking rules (confidence, margin, entropy, random, origin, ancestral)")->capture_default_str();
  cmd->add_option("--threshold", c->threshold, "Axis: Fast-dLLM thresholds, 'none' for off")->capture_default_str();
  cmd->add_option("--factor", c->factor, "Axis: Fast-dLLM factors, 'none' for off")->capture_default_str();
  cmd->add_option("--alg-temp", c->alg_temp, "Axis: position-sampling temperatures, 'none' for off")->capture_default_str();
  cmd->add_option("--cache", c->cache, "Axis: key/value cache modes (none, prefix, dual); with --schedule timestep or a checkpoint without the cache methods, prefix and dual cells are skipped")->capture_default_str();
  // Single-valued options, as in dlm generate.
  cmd->add_option("-n,--max-new-tokens", s.base.max_new_tokens, "Tokens to generate per prompt")->capture_default_str();
  cmd->add_option("--temperature", s.base.temperature, "Gumbel-max temperature; 0 is greedy")->capture_default_str();
  cmd->add_option("--seed", s.base.seed, "Random seed of every generation")->capture_default_str();
  cmd->add_option("--style", c->style, "llada or dream")->capture_default_str();
  cmd->add_option("--schedule", c->schedule, "block or timestep")->capture_default_str();
  cmd->add_option("--eps", s.base.eps, "Final time of the timestep schedule")->capture_default_str();
  cmd->add_option("--top-k", s.base.top_k, "Keep the k most likely tokens (0: off)")->capture_default_str();
  cmd->add_option("--top-p", s.base.top_p, "Nucleus filter (1: off)")->capture_default_str();
  cmd->add_option("--cfg-scale", s.base.cfg_scale, "Classifier-free guidance (0: off)")->capture_default_str();
  cmd->add_option("--eos", c->eos, "none, suppress, defer or stop")->capture_default_str();
  cmd->add_option("--stop", s.base.stop, "Stop string (repeatable)")->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("-t,--threads", s.runtime.threads, "CPU threads (0: every core)")->capture_default_str();
  cmd->add_option("--device", s.runtime.device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--python", s.python, "Python that runs scripts/eval/plot_sweep.py")->capture_default_str();
  cmd->add_flag("--no-plot", c->no_plot, "Do not draw sweep.png");
  add_log_options(*cmd, c->log);
  return [c, cmd] { return run(*c, *cmd); };
}

}  // namespace dlm::cli
