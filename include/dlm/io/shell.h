#pragma once
// Quoting for /bin/sh command lines (dlm runs the sweep's plot script through one).
#include <string>

namespace dlm {

// `s` in single quotes, embedded single quotes escaped: one word to /bin/sh, whatever it holds.
std::string shell_quote(const std::string& s);

}  // namespace dlm
