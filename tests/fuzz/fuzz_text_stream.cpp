// libFuzzer target: UTF-8 streaming of arbitrary bytes. A tiny fake tokenizer maps ids
// 0-255 to single bytes and a few ids to multi-byte pieces; the input chooses stop strings,
// the generated ids and the order in which the canvas is unmasked. The streamed pieces
// must add up to text(), be valid UTF-8, never hold a stop string, and tokens() must be a
// prefix of the final ids.
#include <utf8.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dlm/text/text_stream.h"
#include "dlm/text/utf8_stream.h"
#include "dlm/tokenizer/tokenizer.h"
#include "fuzz_contract.h"

namespace {

constexpr std::int64_t kEos = 256 + 8;
constexpr std::int64_t kMask = kEos + 1;

class ByteTokenizer : public dlm::Tokenizer {
 public:
  ByteTokenizer() {
    for (int b = 0; b < 256; ++b) pieces_.emplace_back(1, static_cast<char>(b));
    // Whole characters, truncated sequences and an over-long one, as byte fallback can leave.
    for (const char* p : {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", " the", "\xE2\x82",
                          "\xF0\x9F", "\xC0\xAF", "\xED\xA0\x80"}) {
      pieces_.emplace_back(p);
    }
    pieces_.emplace_back();  // eos: no bytes
    pieces_.emplace_back();  // mask
  }
  std::vector<std::int64_t> encode(std::string_view) const override { return {}; }
  std::int64_t size() const override { return static_cast<std::int64_t>(pieces_.size()); }
  const std::string& piece_bytes(std::int64_t id) const override { return pieces_.at(id); }
  std::string kind() const override { return "fuzz"; }

 private:
  std::vector<std::string> pieces_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using dlm::fuzz::require;
  static const ByteTokenizer tokenizer;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  // The plain functions on the whole input.
  const std::size_t complete = dlm::utf8_complete_prefix(bytes);
  require(complete <= bytes.size() && bytes.size() - complete <= 3, "complete prefix out of range");
  const std::string clean = dlm::utf8_sanitize(bytes);
  require(utf8::is_valid(clean.begin(), clean.end()), "utf8_sanitize left invalid UTF-8");
  require(dlm::utf8_sanitize(clean) == clean, "utf8_sanitize is not idempotent");

  // Layout: [n_stop][stop strings, each (len, bytes)][ids as (byte, selector) pairs][order].
  std::size_t at = 0;
  const auto next = [&]() -> std::uint8_t { return at < size ? data[at++] : 0; };
  std::vector<std::string> stops;
  for (int n = next() % 4; n > 0; --n) {
    const std::size_t len = next() % 6;
    std::string s;
    for (std::size_t i = 0; i < len; ++i) s.push_back(static_cast<char>(next()));
    stops.push_back(s);
  }
  std::vector<std::int64_t> final_ids;
  const std::size_t n_ids = (size - std::min(size, at)) / 3;
  for (std::size_t i = 0; i < n_ids; ++i) {
    const std::uint8_t b = next(), sel = next();
    final_ids.push_back(sel < 200 ? b : sel < 250 ? 256 + b % 8 : kEos);
  }
  // The rest of the input picks which masked position is committed next.
  std::vector<std::int64_t> canvas(final_ids.size(), kMask);
  std::vector<std::size_t> masked(final_ids.size());
  for (std::size_t i = 0; i < masked.size(); ++i) masked[i] = i;

  dlm::TextStream stream(tokenizer, kEos, kMask, stops);
  std::string streamed = stream.advance(canvas);
  while (!masked.empty() && !stream.finished()) {
    const std::size_t k = (next() + at) % masked.size();
    canvas[masked[k]] = final_ids[masked[k]];
    masked.erase(masked.begin() + static_cast<std::ptrdiff_t>(k));
    streamed += stream.advance(canvas);
  }
  streamed += stream.finish();

  require(streamed == stream.text(), "streamed pieces differ from text()");
  require(utf8::is_valid(streamed.begin(), streamed.end()), "streamed text is not valid UTF-8");
  const auto& tokens = stream.tokens();
  require(tokens.size() <= final_ids.size(), "more tokens than positions");
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    require(tokens[i] == final_ids[i] && tokens[i] != kEos, "tokens() is not a prefix of the ids");
  }
  if (stream.hit_stop_string()) {
    std::string raw;
    for (const auto id : tokens) raw += tokenizer.piece_bytes(id);
    for (const auto& s : stops) {
      if (!s.empty()) require(raw.find(s) == std::string::npos, "tokens kept a stop string");
    }
  }
  return 0;
}
