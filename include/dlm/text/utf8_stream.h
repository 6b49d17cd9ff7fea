#pragma once
// Byte streams cut into whole UTF-8 characters: streamed text never ends inside a
// multi-byte sequence, and invalid bytes (for example from byte-fallback tokens
// that never completed) become U+FFFD.
#include <cstddef>
#include <string>
#include <string_view>

namespace dlm {

// Length of the longest prefix of `bytes` that does not end inside an incomplete
// (but so far valid) multi-byte sequence.
std::size_t utf8_complete_prefix(std::string_view bytes);

// `bytes` with every invalid sequence replaced by U+FFFD.
std::string utf8_sanitize(std::string_view bytes);

}  // namespace dlm
