#include "hf_added_tokens.h"

#include "hf_unicode.h"

namespace dlm::hf {

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (std::size_t t = 0; t < tokens_.size(); ++t) {
    const std::string& content = tokens_[t].content;
    if (content.empty()) continue;
    first_byte_[static_cast<unsigned char>(content[0])] = true;
    std::int32_t node = 0;
    for (const char c : content) {
      const auto byte = static_cast<unsigned char>(c);
      std::int32_t child = -1;
      for (const auto& [b, n] : nodes_[node].children) {
        if (b == byte) child = n;
      }
      if (child < 0) {
        child = static_cast<std::int32_t>(nodes_.size());
        nodes_[node].children.emplace_back(byte, child);
        nodes_.emplace_back();
      }
      node = child;
    }
    if (nodes_[node].token < 0) nodes_[node].token = static_cast<std::int32_t>(t);
  }
}

std::int32_t AddedTokenMatcher::longest_at(std::string_view text, std::size_t at, std::size_t& length) const {
  std::int32_t node = 0, found = -1;
  for (std::size_t i = at; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::int32_t child = -1;
    for (const auto& [b, n] : nodes_[node].children) {
      if (b == byte) child = n;
    }
    if (child < 0) break;
    node = child;
    if (nodes_[node].token >= 0) {
      found = nodes_[node].token;
      length = i + 1 - at;
    }
  }
  return found;
}

namespace {

bool word_char(char32_t c) { return c == U'_' || is_alphanumeric(c); }

}  // namespace

void AddedTokenMatcher::split(std::string_view text, std::vector<Segment>& segments) const {
  std::size_t start_offset = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    if (!first_byte_[static_cast<unsigned char>(text[at])]) {
      ++at;
      continue;
    }
    std::size_t length = 0;
    const std::int32_t index = longest_at(text, at, length);
    if (index < 0) {
      ++at;
      continue;
    }
    const AddedToken& token = tokens_[static_cast<std::size_t>(index)];
    std::size_t start = at, stop = at + length;
    at = stop;  // matches never overlap, even when a single_word match is discarded
    if (token.single_word) {
      std::size_t unused = 0;
      const bool start_space = start == 0 || !word_char(previous_code_point(text, start, unused));
      std::size_t next = stop;
      const bool stop_space = stop == text.size() || !word_char(next_code_point(text, next));
      if (!start_space || !stop_space) continue;
    }
    if (token.lstrip) {
      std::size_t new_start = start;
      while (new_start > 0) {
        std::size_t char_start = 0;
        if (!is_whitespace(previous_code_point(text, new_start, char_start))) break;
        new_start = char_start;
      }
      start = std::max(new_start, start_offset);
    }
    if (token.rstrip) {
      while (stop < text.size()) {
        std::size_t next = stop;
        if (!is_whitespace(next_code_point(text, next))) break;
        stop = next;
      }
      at = stop;
    }
    if (start_offset < start) segments.push_back({start_offset, start, -1});
    segments.push_back({start, stop, token.id});
    start_offset = stop;
  }
  if (start_offset < text.size()) segments.push_back({start_offset, text.size(), -1});
}

}  // namespace dlm::hf
