#include "dlm/text/chat_format.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdint>

#include "dlm/error.h"

namespace dlm {
namespace {

// Python's str.isspace() (what Jinja's `trim` filter strips), by code point.
bool python_space(std::uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

// The code point of the UTF-8 sequence s[i, i + n); 0xFFFFFFFF when it is not one.
std::uint32_t code_point(const std::string& s, std::size_t i, std::size_t n) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  if (n == 1) return b(0) < 0x80 ? b(0) : 0xFFFFFFFF;
  std::uint32_t c = b(0) & (0xFF >> (n + 1));
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0xFFFFFFFF;
    c = (c << 6) | (b(k) & 0x3F);
  }
  return c;
}

std::size_t sequence_length(unsigned char lead) {
  return lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 1;
}

// Jinja's `trim` (Python's str.strip()) on UTF-8 text.
std::string trim(const std::string& s) {
  std::size_t a = 0;
  while (a < s.size()) {
    const std::size_t n = sequence_length(static_cast<unsigned char>(s[a]));
    if (a + n > s.size() || !python_space(code_point(s, a, n))) break;
    a += n;
  }
  std::size_t b = s.size();
  while (b > a) {
    std::size_t start = b - 1;
    while (start > a && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && b - start < 4) --start;
    if (!python_space(code_point(s, start, b - start))) break;
    b = start;
  }
  return s.substr(a, b - a);
}

bool ascii_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

void check_role(const ChatMessage& m) {
  if (m.role != "system" && m.role != "user" && m.role != "assistant") {
    throw UsageError(fmt::format("chat role '{}' is not one of system, user, assistant", m.role));
  }
}

}  // namespace

ChatFormat parse_chat_format(const std::string& name) {
  if (name.empty() || name == "plain") return ChatFormat::kPlain;
  if (name == "llada") return ChatFormat::kLlada;
  if (name == "chatml") return ChatFormat::kChatml;
  throw UsageError(fmt::format("unknown chat format '{}'; known: llada, chatml, plain", name));
}

std::string to_string(ChatFormat format) {
  switch (format) {
    case ChatFormat::kPlain: return "plain";
    case ChatFormat::kLlada: return "llada";
    case ChatFormat::kChatml: return "chatml";
  }
  return "plain";
}

Conversation with_system(Conversation messages, const std::optional<std::string>& system) {
  if (!system || (!messages.empty() && messages.front().role == "system")) return messages;
  messages.insert(messages.begin(), ChatMessage{"system", *system});
  return messages;
}

std::string render_chat(ChatFormat format, const Conversation& messages, bool add_generation_prompt) {
  std::string out;
  for (const auto& m : messages) {
    check_role(m);
    switch (format) {
      case ChatFormat::kLlada:
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trim(m.content) + "<|eot_id|>";
        break;
      case ChatFormat::kChatml:
        out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
        break;
      case ChatFormat::kPlain:
        if (!out.empty() && !m.content.empty() && !ascii_space(out.back()) &&
            !ascii_space(m.content.front())) {
          out += ' ';
        }
        out += m.content;
        break;
    }
  }
  if (add_generation_prompt) {
    if (format == ChatFormat::kLlada) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    if (format == ChatFormat::kChatml) out += "<|im_start|>assistant\n";
  }
  return out;
}

std::string render_for(const ModelConfig& config, const Conversation& messages,
                       const std::optional<std::string>& system) {
  return render_chat(parse_chat_format(config.chat_format),
                     with_system(messages, system ? system : config.chat_system));
}

}  // namespace dlm
