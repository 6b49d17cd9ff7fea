#pragma once
// --chat and --system: the prompt as a user turn in the checkpoint's chat format
// (dlm generate), and the system turn of `dlm chat`. They shape the prompt text, not the
// sampling, so they are options of these commands rather than of the sampling registry
// (batch records carry `messages` instead).
#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "dlm/model/checkpoint.h"
#include "dlm/text/chat_format.h"

namespace dlm::cli {

struct ChatFlags {
  bool chat = false;
  std::string system;
  CLI::Option* system_option = nullptr;
  // --system when given (also as a TOML key), else nullopt: the checkpoint's chat_system.
  std::optional<std::string> system_turn() const {
    if (system_option && system_option->count() > 0) return system;
    return std::nullopt;
  }
};

// Registers --system on `cmd`, and --chat when `with_chat` (dlm chat is always a chat).
void add_chat_flags(CLI::App& cmd, ChatFlags& flags, bool with_chat);

// The one-line notice for a checkpoint without a chat format (turns are plain text), or
// the warning for one with a chat format but no end-of-turn id.
void notice_plain_chat(const Checkpoint& checkpoint);

}  // namespace dlm::cli
