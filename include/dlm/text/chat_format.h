#pragma once
// Chat formats: a conversation (system, user and assistant turns) rendered as the prompt
// text a chat-tuned checkpoint was trained on, before tokenization. The checkpoint's
// config.json names its format (`chat_format`); the tokenizer turns the special-token
// strings of the text (`<|im_start|>`, `<|eot_id|>`) into their ids. Each format
// reproduces its model's Jinja chat template (tests/test_chat_format.cpp renders the real
// templates with jinja2 and compares); the beginning-of-sequence token is never part of
// the text: the checkpoint's add_bos prepends its id.
#include <optional>
#include <string>
#include <vector>

#include "dlm/model/model_config.h"

namespace dlm {

// The named formats.
enum class ChatFormat {
  kPlain,   // no chat format (the shipped KJV model): turns are plain text, joined
  kLlada,   // LLaDA-8B-Instruct (Llama 3 headers, <|eot_id|>)
  kChatml,  // ChatML (Qwen, Dream): <|im_start|>role\n...<|im_end|>\n
};

// "llada", "chatml", "plain"; "" (config.json without chat_format) is plain. Throws
// UsageError naming the known formats.
ChatFormat parse_chat_format(const std::string& name);
std::string to_string(ChatFormat format);

// One turn of a conversation. role: "system", "user" or "assistant".
struct ChatMessage {
  std::string role;
  std::string content;
};
using Conversation = std::vector<ChatMessage>;

// `messages` with `system` as a first system turn when it has none there (the
// checkpoint's chat_system, or --system); unchanged when `system` is empty.
Conversation with_system(Conversation messages, const std::optional<std::string>& system);

// The prompt text of `messages`, followed by the assistant's header when
// `add_generation_prompt` (the text the model continues with its answer). Throws
// UsageError for a role other than system, user and assistant.
//   llada:  per turn `<|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|>`, the
//           content stripped of leading and trailing whitespace (the template's `| trim`);
//           prompt `<|start_header_id|>assistant<|end_header_id|>\n\n`.
//   chatml: per turn `<|im_start|>ROLE\nCONTENT<|im_end|>\n`; prompt `<|im_start|>assistant\n`.
//   plain:  the contents in order, one space put between two turns when neither side has
//           whitespace at the joint (empty turns add nothing); no roles, no prompt. One user
//           turn renders as its content exactly: `--chat` on a plain checkpoint changes nothing.
std::string render_chat(ChatFormat format, const Conversation& messages,
                        bool add_generation_prompt = true);

// The prompt text of `messages` for a checkpoint: its chat_format (none: plain), the system
// turn `system` or else its chat_system when the conversation starts without one, and the
// generation prompt. Throws UsageError (unknown format in the config, bad role).
std::string render_for(const ModelConfig& config, const Conversation& messages,
                       const std::optional<std::string>& system = std::nullopt);

}  // namespace dlm
