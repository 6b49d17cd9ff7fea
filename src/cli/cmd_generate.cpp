// `dlm generate`: one prompt in, text streamed out (or the live canvas, or a JSON record).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

#include "cli/chat_flags.h"
#include "cli/commands.h"
#include "cli/input_file.h"
#include "cli/live_view.h"
#include "cli/sampling_flags.h"
#include "cli/terminal.h"
#include "dlm/model/checkpoint.h"
#include "dlm/error.h"
#include "dlm/sampling/sampler.h"
#include "dlm/sampling/names.h"

namespace dlm::cli {
namespace {

struct GenerateCommand {
  SamplingFlags flags;
  ChatFlags chat;
  std::string prompt;
  std::string prompt_file;
  bool visual = false;
  bool json = false;
  bool stats = false;
  bool no_display_prompt = false;
  LogOptions log;
};

std::string read_all(std::istream& in) {
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string read_prompt(const GenerateCommand& c, const CLI::App& cmd) {
  if (cmd.count("--prompt") > 0) return c.prompt;
  if (cmd.count("--file") > 0 && c.prompt_file != "-") {
    return read_input_file(c.prompt_file, "prompt file", "-f");
  }
  if (cmd.count("--file") > 0 || !stdin_is_terminal()) return read_all(std::cin);
  spdlog::debug("no prompt given: unconditional generation");
  return {};
}

void print_stats(const GenerationResult& r, std::int64_t canvas_tokens, const std::string& graphs) {
  const double gen_ms = r.total_ms - r.load_ms;
  const double outside = gen_ms > 0 ? 100.0 * (gen_ms - r.forward_ms) / gen_ms : 0.0;
  // Generated tokens (the completion, up to its end) and canvas positions (-n, every one
  // denoised) are different rates: the first is what a reader gets, the second the work.
  const auto per_s = [&](double n) { return gen_ms > 0 ? n * 1000.0 / gen_ms : 0.0; };
  const auto generated = static_cast<double>(r.token_ids.size());
  std::cerr << fmt::format(
      "stats: load {:.0f} ms | {} forward calls, {:.0f} ms in forward | {:.2f} s: {} tokens "
      "generated = {:.2f} tokens/s, {} canvas positions = {:.2f} positions/s | outside forward "
      "{:.1f}% of generation time | cache {} ({}) | seed {}{}\n",
      r.load_ms, r.nfe, r.forward_ms, gen_ms / 1000.0, r.token_ids.size(), per_s(generated),
      canvas_tokens, per_s(static_cast<double>(canvas_tokens)), outside, r.cache,
      format_bytes(r.cache_bytes), r.seed, graphs.empty() ? "" : " | cuda graphs " + graphs);
}

int run(GenerateCommand& c, CLI::App& cmd) {
  resolve_sampling_flags(cmd, c.flags);
  if (c.chat.system_turn() && !c.chat.chat) {
    throw UsageError("--system is the system turn of a chat; add --chat");
  }
  const std::string model = model_path(c.flags);
  check_before_load(c.flags.options, model);  // usage errors come out before the model loads
  apply_log_options(c.log);
  configure_runtime(c.flags.runtime);
  const GenerateOptions& sampling = c.flags.options;
  std::string prompt = read_prompt(c, cmd);
  auto checkpoint = Checkpoint::load(model, c.flags.runtime);
  spdlog::debug("loaded {} in {:.0f} ms", model, checkpoint->load_ms());
  const std::string shown_prompt = prompt;  // the user's text, not the chat template
  if (c.chat.chat) {
    notice_plain_chat(*checkpoint);
    prompt = render_for(checkpoint->config(), {{"user", prompt}}, c.chat.system_turn());
  }
  const auto prompt_ids = encode_prompt(*checkpoint, prompt);
  validate(sampling, *checkpoint, static_cast<std::int64_t>(prompt_ids.size()));
  notice_uncached(sampling, *checkpoint);

  std::unique_ptr<GenerationObserver> observer;
  const bool live = c.visual && stdout_is_terminal();
  if (!c.json && !live) {
    if (c.visual) spdlog::info("--visual needs a terminal on stdout; streaming plain text instead");
    observer = std::make_unique<StreamPrinter>();
    // On a terminal the completion follows its prompt, as llama.cpp shows it (bold, so the
    // two can be told apart); piped output stays the completion alone.
    if (!c.no_display_prompt && !shown_prompt.empty() && stdout_is_terminal()) {
      std::cout << "\x1b[1m" << shown_prompt << "\x1b[0m" << (c.chat.chat ? "\n" : "") << std::flush;
    }
  }
  GenerationResult result;
  if (live) {
    auto finished = generate_live(*checkpoint, prompt, prompt_ids, sampling);
    if (!finished) return 130;  // Ctrl-C: the text so far and a note are printed
    result = std::move(*finished);
  } else {
    result = generate(*checkpoint, prompt_ids, sampling, observer.get());
  }
  if (c.chat.chat) result.prompt = prompt;  // --json records the rendered prompt
  // An empty completion is a result (exit 0), but never a silent one.
  if (result.token_ids.empty()) {
    spdlog::warn("the completion is empty: the text ended at once (an end of sequence or a stop "
                 "string came first); try --min-new-tokens 16 (no end of sequence before 16 "
                 "tokens), --eos suppress, or a prompt that does not end a sentence");
  }
  if (c.json) {
    std::cout << to_json(result) << std::endl;
  } else {
    std::cout << std::endl;
  }
  if (c.stats) print_stats(result, sampling.max_new_tokens, checkpoint->cuda_graph_summary());
  return 0;
}

}  // namespace

Runner add_generate(CLI::App& app) {
  auto c = std::make_shared<GenerateCommand>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt, streamed as it becomes final");
  add_sampling_flags(*cmd, c->flags);
  add_chat_flags(*cmd, c->chat, true);
  // PROMPT: the prompt may also come bare, as in `dlm generate "In the beginning"`.
  auto* prompt = cmd->add_option("-p,--prompt,PROMPT", c->prompt,
                                 "Prompt text, also given bare (empty: unconditional)");
  auto* file = cmd->add_option("-f,--file", c->prompt_file, "Read the prompt from a file ('-': stdin); default: stdin when it is not a terminal");
  prompt->excludes(file);
  auto* visual = cmd->add_flag("--visual,--diffusion-visual", c->visual, "Live view of the canvas, redrawn in place on the alternate screen with a legend and a status line; Ctrl-C stops (terminal only)");
  auto* json = cmd->add_flag("--json", c->json, "Print one JSON record instead of streaming text");
  visual->excludes(json);
  cmd->add_flag("--no-display-prompt", c->no_display_prompt, "On a terminal, print the completion without its prompt first");
  cmd->add_flag("--stats", c->stats, "Print load time, forward calls, tokens/s, overhead, cache and seed to stderr");
  add_log_options(*cmd, c->log);
  return [c, cmd] { return run(*c, *cmd); };
}

}  // namespace dlm::cli
