#include "dlm/text/utf8_stream.h"

#include <utf8.h>

#include <iterator>

namespace dlm {
namespace {

// Number of bytes of the sequence a lead byte starts; 0 for a continuation or invalid byte.
int sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 0;
}

}  // namespace

std::size_t utf8_complete_prefix(std::string_view bytes) {
  const std::size_t n = bytes.size();
  // An incomplete sequence starts at most 3 bytes before the end.
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto byte = static_cast<unsigned char>(bytes[n - back]);
    if ((byte & 0xC0) == 0x80) continue;  // continuation: keep looking for the lead
    const int need = sequence_length(byte);
    return (need > static_cast<int>(back)) ? n - back : n;
  }
  return n;  // only continuation bytes at the end: invalid, not incomplete
}

std::string utf8_sanitize(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  utf8::replace_invalid(bytes.begin(), bytes.end(), std::back_inserter(out), 0xFFFD);
  return out;
}

}  // namespace dlm
