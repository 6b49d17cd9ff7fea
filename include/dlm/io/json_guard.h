#pragma once
// Checks that come before or instead of nlohmann::json's own conversions, which are
// lenient (a float read as an integer is truncated, 1e300 as an integer is undefined
// behaviour) or recursive (80,000 nested brackets overflow the stack in dump() and in
// the destructor).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace dlm {

// Deepest nesting of arrays and objects a record, a config.json or a prompts file may have.
inline constexpr int kMaxJsonDepth = 64;

// A message ("nesting deeper than 64 levels") when `text` nests arrays/objects deeper
// than `limit` (strings are skipped, so brackets inside them do not count); nullopt otherwise.
// Linear, no allocation: call it before json::parse on untrusted text.
std::optional<std::string> json_depth_problem(std::string_view text, int limit = kMaxJsonDepth);

// `value` as an int64 when it is a JSON integer (not a float, not a bool) that fits.
std::optional<std::int64_t> json_int64(const nlohmann::json& value);

}  // namespace dlm
