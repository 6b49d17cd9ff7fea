#pragma once
// Messages stay one line: a value the user gave (a JSON string, a TOML value) echoed in an
// error may hold a newline or a NUL; one_line() escapes control characters.
#include <cstdio>
#include <string>
#include <string_view>

namespace dlm {

// `text` with control characters escaped (\n, \r, \xNN; a tab is kept).
inline std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 && c != '\t') {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace dlm
