#pragma once
// Text-to-value parsers of the option registry and its checks' helper (private to src/).
#include <cstdint>
#include <string>

namespace dlm::detail {

// Throws UsageError(message) unless `ok`.
void require(bool ok, const std::string& message);

// The whole of `text` as a number; UsageError naming `flag` and `text` otherwise.
std::int64_t parse_integer(const std::string& flag, const std::string& text);
double parse_number(const std::string& flag, const std::string& text);
// A seed in [0, kMaxSeed]; "-1" draws a fresh one (draw_seed).
std::uint64_t parse_seed(const std::string& flag, const std::string& text);

}  // namespace dlm::detail
