// `dlm sweep`: a grid of sampling settings run over a prompt set; speed and quality per
// cell, written to a directory (resumable) and summed up in a Markdown table and a plot.
// Its sampling options are the registry's, as in dlm generate: the axes take
// comma-separated lists, the others one value.
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/sampling_flags.h"
#include "cli/option_binding.h"
#include "dlm/error.h"
#include "dlm/model/model_paths.h"
#include "dlm/eval/sweep.h"
#include "dlm/eval/sweep_runner.h"

namespace dlm::cli {
namespace {

struct SweepCommand {
  SweepSettings settings;
  std::string config;
  GivenOptions given;  // the registry's options as given
  bool no_plot = false;
  LogOptions log;
};

// What the axis form of an option adds to its help.
std::string axis_help(const OptionSpec& spec) {
  if (spec.name == "steps") {
    return "Axis (comma-separated): denoising steps; without --steps: -n/8, -n/4, -n/2 and -n";
  }
  if (spec.name == "cache") {
    return "Axis: key/value cache modes (auto, none, prefix, dual, elastic); auto is what dlm "
           "generate runs by default (dual when the checkpoint has the cache methods and the "
           "schedule is block, else none); with --schedule timestep or a checkpoint without "
           "the cache methods, prefix, dual and elastic cells are skipped";
  }
  const bool can_be_off = spec.type == ValueType::kOptionalNumber || spec.name == "alg-temp";
  return fmt::format("Axis (comma-separated{}): {}", can_be_off ? ", 'none' for off" : "",
                     spec.help);
}

std::vector<std::int64_t> steps_following(std::int64_t max_new_tokens) {
  std::vector<std::int64_t> steps;
  for (const std::int64_t divisor : {8, 4, 2, 1}) {
    const std::int64_t n = max_new_tokens / divisor;
    if (n >= 1 && (steps.empty() || steps.back() != n)) steps.push_back(n);
  }
  if (steps.empty()) steps.push_back(max_new_tokens);  // -n 0: the cell check names it
  return steps;
}

void resolve(SweepCommand& c) {
  SweepSettings& s = c.settings;
  for (const auto& spec : option_registry()) {
    const auto texts = c.given.texts(spec);
    if (texts.empty()) continue;
    if (spec.axis) {
      set_axis(s.grid, spec.name, texts.back());
    } else {
      spec.set(s.base, texts);
    }
  }
  // Without --steps the axis follows -n as generate's steps do: -n/8, -n/4, -n/2 and -n
  // (8,16,32,64 at the default -n 64).
  if (c.given.texts(*find_option("steps")).empty()) s.grid.steps = steps_following(s.base.max_new_tokens);
  s.plot = !c.no_plot;
  if (s.runtime.threads < 0) {
    throw UsageError(fmt::format("--threads {} must be >= 0 (0: the idle cores)", s.runtime.threads));
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
  cmd->add_option("--config", c->config, "TOML preset; keys are the long option names; an axis takes a TOML list or a comma-separated string (steps = [8, 16] or steps = \"8,16\")");
  cmd->add_option("-m,--model", s.model, "Denoiser checkpoint; default: the shipped models/dlm-kjv-tiny.pt");
  cmd->add_option("--judge", s.judge, "Causal judge checkpoint for perplexity; default: the shipped models/kjv-judge.pt ($DLM_JUDGE overrides)");
  cmd->add_option("-i,--prompts", s.prompts, "Prompt set: JSONL, one {\"prompt\", \"id\", \"reference\"} per line (scripts/data/heldout_prompts.jsonl)")->required();
  cmd->add_option("-o,--out", s.out_dir, "Output directory: cells.jsonl (resume point), sweep.csv, sweep.json, sweep.png")->required();
  cmd->add_option("--limit", s.limit, "Use the first N prompts (0: all)")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000000));
  cmd->add_option("--repeats", s.repeats, "Timed runs of every prompt per cell (tokens/s is their median)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--batch-size", s.batch_size, "Prompts generated together per call (1: one at a time)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  for (const auto& spec : option_registry()) {
    if (spec.axis) {
      c->given.bind(*cmd, spec, axis_help(spec), axis_text(s.grid, spec.name))->type_name("LIST");
    } else {
      c->given.bind(*cmd, spec, spec.help, option_text(spec, s.base));
    }
  }
  cmd->add_option("-t,--threads", s.runtime.threads, "CPU cores to use (0: the idle ones)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  add_model_runtime_flags(*cmd, s.runtime);
  cmd->add_option("--python", s.python, "Python that runs scripts/eval/plot_sweep.py")->capture_default_str();
  cmd->add_flag("--no-plot", c->no_plot, "Do not draw sweep.png");
  add_log_options(*cmd, c->log);
  return [c, cmd] { return run(*c, *cmd); };
}

}  // namespace dlm::cli
