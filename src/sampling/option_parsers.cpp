// Text-to-value parsers of the option registry: each error names the option, the bad
// text and a valid example.
#include "sampling/option_parsers.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>

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

std::uint64_t parse_unsigned(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  require(text.find('-') == std::string::npos && errno == 0 && end != text.c_str() && *end == '\0',
          fmt::format("{} '{}' is not a whole number >= 0; for example {} 7", flag, text, flag));
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
  return static_cast<std::int64_t>(bytes);
}

}  // namespace dlm
