#include "cli/chat_flags.h"

#include <spdlog/spdlog.h>

namespace dlm::cli {

void add_chat_flags(CLI::App& cmd, ChatFlags& f, bool with_chat) {
  if (with_chat) {
    cmd.add_flag("--chat", f.chat, "Wrap the prompt as a user turn in the checkpoint's chat format (none: the prompt as is)");
  }
  f.system_option = cmd.add_option("--system", f.system, "System turn of the chat (default: the checkpoint's chat_system)");
}

void notice_plain_chat(const Checkpoint& checkpoint) {
  const ModelConfig& config = checkpoint.config();
  if (parse_chat_format(config.chat_format) == ChatFormat::kPlain) {
    spdlog::info("{} has no chat format: turns are plain text (prompt and continuation)",
                 checkpoint.path());
  } else if (!config.eot_id) {
    spdlog::warn("{} has chat format {} but no eot_token_id: answers end only at the end of "
                 "sequence (re-export it with eot_token_id set)", checkpoint.path(), config.chat_format);
  }
}

}  // namespace dlm::cli
