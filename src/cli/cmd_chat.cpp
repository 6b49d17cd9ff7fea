// `dlm chat`: a multi-turn session in the terminal. Each user line becomes a user turn; the
// whole conversation is rendered in the checkpoint's chat format and encoded again every
// turn, and the answer is streamed as it becomes final. With stdin not a terminal, lines
// are read plainly (one user turn per line) and each answer ends with a newline.
#include <editline/readline.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/chat_flags.h"
#include "cli/commands.h"
#include "cli/sampling_flags.h"
#include "cli/terminal.h"
#include "dlm/error.h"
#include "dlm/model/checkpoint.h"
#include "dlm/sampling/sampler.h"
#include "dlm/text/chat_format.h"

namespace dlm::cli {
namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_chat_interrupt(int) { g_interrupted.store(true); }

struct ChatCommand {
  SamplingFlags flags;
  ChatFlags chat;
  LogOptions log;
};

constexpr const char* kHelp =
    "commands: /reset clears the conversation | /system TEXT sets the system turn (/system "
    "alone: the checkpoint's default) | /help | Ctrl-C stops an answer (kept so far) or clears "
    "the line | Ctrl-D ends the session";

// The user's lines: libedit (line editing, history) on a terminal, else plain lines.
class LineReader {
 public:
  explicit LineReader(bool interactive) : interactive_(interactive) {
    if (interactive_) using_history();
  }
  // False at the end of input (Ctrl-D, end of file). Ctrl-C at the prompt clears the line.
  bool read(std::string& line) {
    if (!interactive_) return static_cast<bool>(std::getline(std::cin, line));
    for (;;) {
      char* raw = readline("> ");
      if (raw == nullptr) {
        if (!g_interrupted.exchange(false)) {
          std::cout << std::endl;
          return false;
        }
        std::cout << "^C" << std::endl;  // the line is dropped; ask again
        continue;
      }
      line = raw;
      std::free(raw);
      if (!line.empty()) add_history(line.c_str());
      return true;
    }
  }

 private:
  bool interactive_;
};

// Streams the answer to stdout and keeps what it printed: the answer so far when Ctrl-C
// stops the generation before its result exists.
class AnswerPrinter : public StreamPrinter {
 public:
  void on_text(const std::string& text) override {
    text_ += text;
    StreamPrinter::on_text(text);
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

class Session {
 public:
  Session(Checkpoint& checkpoint, const GenerateOptions& options, std::optional<std::string> system)
      : checkpoint_(checkpoint), options_(options), system_(std::move(system)) {}

  // One input line: a command or a user turn. False when the turn failed.
  bool handle(const std::string& line) {
    if (line == "/reset") {
      turns_.clear();
      spdlog::info("conversation cleared");
      return true;
    }
    if (line == "/system" || line.rfind("/system ", 0) == 0) {
      system_ = line.size() > 8 ? std::optional<std::string>(line.substr(8)) : std::nullopt;
      spdlog::info(system_ ? "system turn set" : "system turn back to the checkpoint's default");
      return true;
    }
    if (line == "/help") {
      std::cerr << kHelp << std::endl;
      return true;
    }
    if (line[0] == '/') {
      spdlog::warn("unknown command '{}'; /help lists them", line);
      return false;
    }
    turns_.push_back({"user", line});
    std::vector<std::int64_t> ids;
    try {
      ids = fit();
      validate(options_, checkpoint_, static_cast<std::int64_t>(ids.size()));
    } catch (const UsageError& e) {
      turns_.pop_back();
      spdlog::error("{}", e.what());
      return false;
    }
    turns_.push_back({"assistant", answer(ids)});
    return true;
  }

 private:
  std::string render() const { return render_for(checkpoint_.config(), turns_, system_); }

  // The prompt ids of the conversation, dropping the oldest exchanges (a user turn and its
  // answer) while the prompt and -n exceed the model's max_seq_len; the last user turn is
  // never dropped (validate() then names what is too long).
  std::vector<std::int64_t> fit() {
    const std::int64_t room = checkpoint_.config().max_seq_len - options_.max_new_tokens;
    std::vector<std::int64_t> ids = encode_prompt(checkpoint_, render());
    std::size_t dropped = 0;
    while (static_cast<std::int64_t>(ids.size()) > room && turns_.size() > 1) {
      turns_.erase(turns_.begin());
      while (turns_.size() > 1 && turns_.front().role != "user") turns_.erase(turns_.begin());
      ++dropped;
      ids = encode_prompt(checkpoint_, render());
    }
    if (dropped > 0) {
      spdlog::warn("the conversation plus -n {} exceeds the model's max_seq_len {}: dropped the "
                   "{} oldest exchange(s); {} turn(s) remain",
                   options_.max_new_tokens, checkpoint_.config().max_seq_len, dropped, turns_.size());
    }
    // One line, as a JSON string: chat formats put newlines in the prompt.
    spdlog::debug("prompt: {}", nlohmann::json(render()).dump(-1, ' ', false,
                                                              nlohmann::json::error_handler_t::replace));
    return ids;
  }

  // Generates and streams the answer; Ctrl-C stops it and keeps what was final.
  std::string answer(const std::vector<std::int64_t>& ids) {
    AnswerPrinter printer;
    std::optional<std::string> text;
    g_interrupted.store(false);
    generate_batch(checkpoint_, {BatchRequest{ids, options_, &printer}},
                   [&](std::size_t, GenerationResult&& r) { text = r.text; }, &g_interrupted);
    std::cout << std::endl;
    if (!text) {
      g_interrupted.store(false);
      spdlog::info("answer stopped; what was final is kept as the assistant turn");
      return printer.text();
    }
    return *text;
  }

  Checkpoint& checkpoint_;
  const GenerateOptions& options_;
  std::optional<std::string> system_;
  Conversation turns_;  // user and assistant turns; the system turn is added when rendering
};

int run(ChatCommand& c, CLI::App& cmd) {
  resolve_sampling_flags(cmd, c.flags);
  const std::string model = model_path(c.flags);
  check_before_load(c.flags.options, model);
  apply_log_options(c.log);
  configure_runtime(c.flags.runtime);
  auto checkpoint = Checkpoint::load(model, c.flags.runtime);
  notice_plain_chat(*checkpoint);
  notice_uncached(c.flags.options, *checkpoint);
  const bool interactive = stdin_is_terminal();
  // From here on Ctrl-C stops an answer or clears the line. On a terminal without
  // SA_RESTART: a Ctrl-C that comes before libedit has the terminal (typed ahead) still
  // interrupts its read instead of leaving it waiting with the line gone.
  struct sigaction action {};
  action.sa_handler = on_chat_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = interactive ? 0 : SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  if (interactive) std::cerr << kHelp << std::endl;
  Session session(*checkpoint, c.flags.options, c.chat.system_turn());
  LineReader reader(interactive);
  std::size_t failed = 0;
  for (std::string line; reader.read(line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (!session.handle(line)) ++failed;
  }
  // Piped input: a turn or command that failed makes the exit code 3, as a failed batch record.
  return !interactive && failed > 0 ? 3 : 0;
}

}  // namespace

Runner add_chat(CLI::App& app) {
  auto c = std::make_shared<ChatCommand>();
  CLI::App* cmd = app.add_subcommand("chat", "Interactive multi-turn chat in the checkpoint's chat format");
  add_sampling_flags(*cmd, c->flags);
  add_chat_flags(*cmd, c->chat, false);
  add_log_options(*cmd, c->log);
  return [c, cmd] { return run(*c, *cmd); };
}

}  // namespace dlm::cli
