// `dlm generate`: one prompt in, text streamed out (or the live canvas, or a JSON record).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/terminal.h"
#include "dlm/checkpoint.h"
#include "dlm/error.h"
#include "dlm/model_paths.h"
#include "dlm/sampler.h"
#include "dlm/sampling.h"

namespace dlm::cli {
namespace {

struct GenerateCommand {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  std::string config;
  RuntimeOptions runtime;
  GenerateOptions sampling;
  std::string algorithm = "confidence";
  std::string style = "llada";
  std::string schedule = "block";
  std::string eos = "none";
  double threshold = 0.0;
  double factor = 0.0;
  bool visual = false;
  bool json = false;
  bool stats = false;
  LogOptions log;
};

std::string read_all(std::istream& in) {
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string read_prompt(const GenerateCommand& c, const CLI::App& cmd) {
  if (cmd.count("--prompt") > 0) return c.prompt;
  if (cmd.count("--file") > 0 && c.prompt_file != "-") {
    std::ifstream in(c.prompt_file, std::ios::binary);
    if (!in) {
      throw UsageError(fmt::format("cannot read prompt file '{}': {}; check the path given to -f",
                                   c.prompt_file, std::strerror(errno)));
    }
    return read_all(in);
  }
  if (cmd.count("--file") > 0 || !stdin_is_terminal()) return read_all(std::cin);
  spdlog::debug("no prompt given: unconditional generation");
  return {};
}

void print_stats(const GenerationResult& r, std::int64_t canvas_tokens) {
  const double gen_ms = r.total_ms - r.load_ms;
  const double outside = gen_ms > 0 ? 100.0 * (gen_ms - r.forward_ms) / gen_ms : 0.0;
  std::cerr << fmt::format(
      "stats: load {:.0f} ms | {} forward calls, {:.0f} ms in forward | {} tokens in {:.2f} s = "
      "{:.2f} tokens/s ({} before end of sequence) | outside forward {:.1f}% of generation time\n",
      r.load_ms, r.nfe, r.forward_ms, canvas_tokens, gen_ms / 1000.0,
      gen_ms > 0 ? canvas_tokens * 1000.0 / gen_ms : 0.0, r.token_ids.size(), outside);
}

// Named strategies and optional rules from their CLI spellings into the options struct.
void resolve_strategies(GenerateCommand& c, const CLI::App& cmd) {
  c.sampling.algorithm = parse_algorithm(c.algorithm);
  c.sampling.style = parse_style(c.style);
  c.sampling.schedule = parse_schedule(c.schedule);
  c.sampling.eos = parse_eos_policy(c.eos);
  if (cmd.count("--threshold") > 0) c.sampling.threshold = c.threshold;
  if (cmd.count("--factor") > 0) c.sampling.factor = c.factor;
}

int run(GenerateCommand& c, CLI::App& cmd) {
  if (!c.config.empty()) apply_config_file(cmd, c.config);
  resolve_strategies(c, cmd);
  if (c.runtime.threads < 0) {
    throw UsageError(fmt::format("--threads {} must be >= 0 (0: every core)", c.runtime.threads));
  }
  apply_log_options(c.log);
  configure_runtime(c.runtime);
  const std::string model = c.model.empty() ? default_model_path() : c.model;
  const std::string prompt = read_prompt(c, cmd);
  auto checkpoint = Checkpoint::load(model, c.runtime.device);
  spdlog::debug("loaded {} in {:.0f} ms", model, checkpoint->load_ms());
  const auto prompt_ids = encode_prompt(*checkpoint, prompt);
  validate(c.sampling, *checkpoint, static_cast<std::int64_t>(prompt_ids.size()));

  std::unique_ptr<GenerationObserver> observer;
  if (c.json) {
    observer = nullptr;
  } else if (c.visual && stdout_is_terminal()) {
    observer = std::make_unique<CanvasView>(checkpoint->tokenizer(), prompt,
                                            checkpoint->config().mask_id,
                                            checkpoint->config().eos_id);
  } else {
    if (c.visual) spdlog::info("--visual needs a terminal on stdout; streaming plain text instead");
    observer = std::make_unique<StreamPrinter>();
  }
  const GenerationResult result = generate(*checkpoint, prompt_ids, c.sampling, observer.get());
  if (c.json) {
    std::cout << to_json(result) << std::endl;
  } else {
    std::cout << std::endl;
  }
  if (c.stats) print_stats(result, c.sampling.max_new_tokens);
  return 0;
}

}  // namespace

Runner add_generate(CLI::App& app) {
  auto c = std::make_shared<GenerateCommand>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt, streamed as it becomes final");
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // last one wins
  cmd->add_option("--config", c->config, "TOML preset (configs/*.toml); options given on the command line override it");
  cmd->add_option("-m,--model", c->model, "Checkpoint (.pt); default: the shipped models/dlm-kjv-tiny.pt");
  auto* prompt = cmd->add_option("-p,--prompt", c->prompt, "Prompt text (empty: unconditional)");
  auto* file = cmd->add_option("-f,--file", c->prompt_file, "Read the prompt from a file ('-': stdin); default: stdin when it is not a terminal");
  prompt->excludes(file);
  cmd->add_option("-n,--max-new-tokens", c->sampling.max_new_tokens, "Tokens to generate")->capture_default_str();
  cmd->add_option("--steps", c->sampling.steps, "Denoising steps, spread over the blocks")->capture_default_str();
  cmd->add_option("--block-length", c->sampling.block_length, "Tokens per block (semi-autoregressive schedule)")->capture_default_str();
  cmd->add_option("--temperature", c->sampling.temperature, "Gumbel-max temperature; 0 is greedy")->capture_default_str();
  cmd->add_option("--seed", c->sampling.seed, "Random seed: the same seed gives the same tokens")->capture_default_str();
  cmd->add_option("--algorithm", c->algorithm, "Unmasking rule: confidence (low_confidence, maskgit_plus), margin (topk_margin), entropy, random, origin, ancestral (ddpm_cache)")->capture_default_str();
  cmd->add_option("--style", c->style, "Candidate draw and score: llada (Gumbel-max, unperturbed softmax) or dream (filtered categorical)")->capture_default_str();
  cmd->add_option("--schedule", c->schedule, "block (LLaDA semi-autoregressive) or timestep (Dream/MDLM linspace(1, eps, steps+1))")->capture_default_str();
  cmd->add_option("--eps", c->sampling.eps, "Final time of the timestep schedule")->capture_default_str();
  cmd->add_option("--top-k", c->sampling.top_k, "Keep the k most likely tokens (0: off)")->capture_default_str();
  cmd->add_option("--top-p", c->sampling.top_p, "Nucleus filter (1: off)")->capture_default_str();
  cmd->add_option("--threshold", c->threshold, "Fast-dLLM: commit the best and every other with score >= T; --steps is ignored");
  cmd->add_option("--factor", c->factor, "Fast-dLLM factor rule with factor F; --steps is ignored");
  cmd->add_option("--alg-temp", c->sampling.alg_temp, "Draw positions from softmax(score / alg_temp) instead of the top-k (0: off)")->capture_default_str();
  cmd->add_option("--cfg-scale", c->sampling.cfg_scale, "LLaDA unsupervised classifier-free guidance (0: off)")->capture_default_str();
  cmd->add_option("--eos", c->eos, "End of sequence: none, suppress, defer (commit last) or stop (end generation)")->capture_default_str();
  cmd->add_option("--stop", c->sampling.stop, "Stop string (repeatable): the text ends before it")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("-t,--threads", c->runtime.threads, "CPU threads (0: every core)")->capture_default_str();
  cmd->add_option("--device", c->runtime.device, "cpu, cuda or cuda:N")->capture_default_str();
  auto* visual = cmd->add_flag("--visual", c->visual, "Redraw the whole canvas in place each step (terminal only)");
  auto* json = cmd->add_flag("--json", c->json, "Print one JSON record instead of streaming text");
  visual->excludes(json);
  cmd->add_flag("--stats", c->stats, "Print load time, forward calls, tokens/s and overhead to stderr");
  add_log_options(*cmd, c->log);
  return [c, cmd] { return run(*c, *cmd); };
}

}  // namespace dlm::cli
