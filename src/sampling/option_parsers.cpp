// Text-to-value parsers of the option registry: each error names the option, the bad
// text and a valid example.
#include "sampling/option_parsers.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <random>

#include "dlm/error.h"
#include "dlm/sampling/options.h"

namespace dlm {
namespace detail {

void require(bool ok, const std::string& message) {
  if (!ok) throw UsageError(message);
}

std::int64_t parse_integer(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  require(errno == 0 && end != text.c_str() && *end == '\0',
          fmt::format("{} '{}' is not a whole number; for example {} 16", flag, text, flag));
  return v;
}

std::uint64_t parse_seed(const std::string& flag, const std::string& text) {
  if (text == "-1") return draw_seed();
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return std::isdigit(c) != 0;
  });
  require(digits, fmt::format("{} '{}' is not a whole number >= 0 (or -1 for a random seed); for "
                              "example {} 7", flag, text, flag));
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  require(errno == 0 && v <= kMaxSeed,
          fmt::format("{} {} is above 2^53 - 1 = {}, the largest seed JSON readers keep exactly; "
                      "use a smaller seed, or -1 for a random one", flag, text, kMaxSeed));
  return v;
}

double parse_number(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  require(end != text.c_str() && *end == '\0',
          fmt::format("{} '{}' is not a number; for example {} 0.5", flag, text, flag));
  return v;
}

}  // namespace detail

std::uint64_t draw_seed() {
  std::random_device device;
  const std::uint64_t high = device(), low = device();
  return ((high << 32) ^ low) & kMaxSeed;
}

std::int64_t parse_byte_size(const std::string& text, const std::string& option) {
  std::size_t used = 0;
  double value = -1;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string suffix = text.substr(used);
  for (auto& ch : suffix) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  double scale = 0;
  if (suffix.empty() || suffix == "B") scale = 1;
  if (suffix == "K" || suffix == "KB" || suffix == "KIB") scale = 1024.0;
  if (suffix == "M" || suffix == "MB" || suffix == "MIB") scale = 1024.0 * 1024;
  if (suffix == "G" || suffix == "GB" || suffix == "GIB") scale = 1024.0 * 1024 * 1024;
  const double bytes = value * scale;
  if (used == 0 || scale == 0 || !(bytes >= 0) || bytes > 9.0e18) {
    throw UsageError(fmt::format("{} '{}' is not a size; give bytes with an optional K, M or G "
                                 "suffix, for example 512M", option, text));
  }
  // 0 means "no limit": a fraction of a byte (0.5) would read as that, not as a limit.
  if (bytes > 0 && bytes < 1) {
    throw UsageError(fmt::format("{} '{}' is less than one byte; 0 means no limit, a limit is at "
                                 "least 1 (for example 512M)", option, text));
  }
  return static_cast<std::int64_t>(bytes);
}

}  // namespace dlm
