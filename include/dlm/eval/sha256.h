#pragma once
// SHA-256 digests, so that a sweep records exactly which checkpoint, judge and prompt
// file produced its numbers (and refuses to resume into a directory made by others).
#include <string>
#include <string_view>

namespace dlm {

// Lower-case hex digest of `bytes`.
std::string sha256_hex(std::string_view bytes);

// Lower-case hex digest of a file's contents; throws UsageError when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace dlm
