#pragma once
// Unicode helpers of the hf tokenizer: UTF-8 checks and decoding, NFC (ICU), and the
// character classes Hugging Face tokenizers take from Rust's char (White_Space,
// alphanumeric).
#include <cstddef>
#include <string>
#include <string_view>

namespace dlm::hf {

// Offset of the first byte that does not start a well-formed UTF-8 sequence (overlong
// forms, surrogates and values above U+10FFFF are ill-formed), or npos if all of it is.
std::size_t invalid_utf8_offset(std::string_view text);

// The code point starting at `text[i]` (well-formed UTF-8 assumed); advances `i`.
char32_t next_code_point(std::string_view text, std::size_t& i);
// The code point ending just before `text[end]`; its first byte's offset in `start`.
char32_t previous_code_point(std::string_view text, std::size_t end, std::size_t& start);
void append_utf8(std::string& out, char32_t c);

// `text` in Normalization Form C (ASCII text is returned without a copy into ICU).
std::string nfc(std::string_view text);

bool is_whitespace(char32_t c);   // Rust's char::is_whitespace (White_Space)
bool is_alphanumeric(char32_t c); // Rust's char::is_alphanumeric (Alphabetic or N*)

}  // namespace dlm::hf
