// Whole-character streaming: utf8_complete_prefix, utf8_sanitize and TextStream (with
// a fake tokenizer whose pieces include raw bytes of one multi-byte character).
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "dlm/text/text_stream.h"
#include "dlm/tokenizer/tokenizer.h"
#include "dlm/text/utf8_stream.h"

using dlm::utf8_complete_prefix;
using dlm::utf8_sanitize;

namespace {

const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD
const std::string kEmDash = "\xE2\x80\x94";        // U+2014

// Valid and whole: sanitising changes nothing and nothing is held back.
bool is_whole_utf8(const std::string& s) {
  return utf8_sanitize(s) == s && utf8_complete_prefix(s) == s.size();
}

// Ids: 0 pad, 2 bos, 3 eos, 4 mask (control ids: no bytes); word pieces; raw bytes
// 10-12 that together spell an em dash; 13-16 the four bytes of U+1F600.
class FakeTokenizer : public dlm::Tokenizer {
 public:
  static constexpr std::int64_t kEos = 3;
  static constexpr std::int64_t kMask = 4;

  FakeTokenizer() : pieces_(20) {
    const std::map<std::int64_t, std::string> pieces{
        {5, " In"}, {6, " the"}, {7, " beginning"}, {8, " God"}, {9, ","},
        {10, "\xE2"}, {11, "\x80"}, {12, "\x94"},
        {13, "\xF0"}, {14, "\x9F"}, {15, "\x98"}, {16, "\x80"}};
    for (const auto& [id, bytes] : pieces) pieces_[static_cast<std::size_t>(id)] = bytes;
  }
  std::vector<std::int64_t> encode(std::string_view) const override { return {}; }
  std::int64_t size() const override { return static_cast<std::int64_t>(pieces_.size()); }
  const std::string& piece_bytes(std::int64_t id) const override {
    return pieces_.at(static_cast<std::size_t>(id));
  }
  std::string kind() const override { return "fake"; }

 private:
  std::vector<std::string> pieces_;
};

constexpr std::int64_t M = FakeTokenizer::kMask;
constexpr std::int64_t E = FakeTokenizer::kEos;

// A TextStream over the fake tokenizer, fed successive canvases.
struct StreamFixture {
  FakeTokenizer tokenizer;
  dlm::TextStream stream{tokenizer, E, M};
};

}  // namespace

TEST_CASE("utf8_complete_prefix keeps ASCII whole", "[utf8]") {
  CHECK(utf8_complete_prefix("") == 0);
  CHECK(utf8_complete_prefix("a") == 1);
  CHECK(utf8_complete_prefix("In the beginning") == 16);
}

TEST_CASE("utf8_complete_prefix holds back a character cut at every byte", "[utf8]") {
  const std::vector<std::string> characters{"\xC3\xA9", kEmDash, "\xF0\x9F\x98\x80"};
  for (const auto& ch : characters) {
    const std::string text = "ab" + ch;
    for (std::size_t cut = 1; cut < ch.size(); ++cut) {
      INFO(ch.size() << "-byte character cut after " << cut << " bytes");
      CHECK(utf8_complete_prefix(text.substr(0, 2 + cut)) == 2);
      CHECK(utf8_complete_prefix(ch.substr(0, cut)) == 0);
    }
    CHECK(utf8_complete_prefix(text) == text.size());
    CHECK(utf8_complete_prefix(text + "x") == text.size() + 1);
    CHECK(utf8_complete_prefix(text + ch) == text.size() + ch.size());
  }
}

TEST_CASE("utf8_complete_prefix does not hold back invalid trailing bytes", "[utf8]") {
  CHECK(utf8_complete_prefix("ab\x80") == 3);                  // stray continuation
  CHECK(utf8_complete_prefix("ab\x80\x80\x80") == 5);          // three of them
  CHECK(utf8_complete_prefix("ab" + kEmDash + "\x80") == 6);   // one too many
  CHECK(utf8_complete_prefix("\xC3\xA9\x80\x80") == 4);
  CHECK(utf8_complete_prefix("ab\xFF") == 3);                  // never a lead byte
  CHECK(utf8_complete_prefix("ab\xF8\x80") == 4);
}

TEST_CASE("utf8_sanitize keeps valid text and replaces invalid bytes with U+FFFD", "[utf8]") {
  const std::string valid = "In the beginning " + kEmDash + " \xC3\xA9 \xF0\x9F\x98\x80";
  CHECK(utf8_sanitize(valid) == valid);
  CHECK(utf8_sanitize("a\xFF" "b") == "a" + kReplacement + "b");
  CHECK(utf8_sanitize("a\x80") == "a" + kReplacement);
  CHECK(utf8_sanitize("a\xE2\x80") == "a" + kReplacement);
}

namespace {

// Bytes in, whole characters out: utf8_complete_prefix and utf8_sanitize composed as
// TextStream composes them.
class Utf8Stream {
 public:
  std::string push(std::string_view bytes) {
    pending_.append(bytes);
    const std::size_t ready = utf8_complete_prefix(pending_);
    std::string out = utf8_sanitize(std::string_view(pending_).substr(0, ready));
    pending_.erase(0, ready);
    return out;
  }
  std::string finish() {
    std::string out = utf8_sanitize(pending_);
    pending_.clear();
    return out;
  }

 private:
  std::string pending_;
};

}  // namespace

TEST_CASE("Utf8Stream fed one byte at a time emits only whole characters", "[utf8]") {
  const std::string input = "H\xC3\xA9llo " + kEmDash + " \xF0\x9F\x98\x80 w\xC3\xB6rld \xE2\x88\x91!";
  Utf8Stream stream;
  std::string joined;
  for (const char byte : input) {
    const std::string out = stream.push(std::string(1, byte));
    INFO("emitted '" << out << "' after " << joined.size() << " bytes");
    REQUIRE(is_whole_utf8(out));
    joined += out;
    REQUIRE(input.compare(0, joined.size(), joined) == 0);  // a prefix of the input
  }
  joined += stream.finish();
  CHECK(joined == input);
}

TEST_CASE("Utf8Stream holds an incomplete character and releases it whole", "[utf8]") {
  Utf8Stream stream;
  CHECK(stream.push("a\xE2") == "a");
  CHECK(stream.push("\x80").empty());
  CHECK(stream.push("\x94z") == kEmDash + "z");
  CHECK(stream.finish().empty());
}

TEST_CASE("Utf8Stream turns invalid bytes into U+FFFD", "[utf8]") {
  SECTION("an incomplete sequence at the end becomes U+FFFD on finish") {
    Utf8Stream stream;
    CHECK(stream.push("ab\xE2\x80") == "ab");
    CHECK(stream.finish() == kReplacement);
    CHECK(stream.finish().empty());  // nothing left after finishing
  }
  SECTION("a sequence interrupted by ASCII is replaced, the ASCII kept") {
    Utf8Stream stream;
    CHECK(stream.push("\xF0\x9F").empty());
    CHECK(stream.push("x") == kReplacement + "x");
  }
  SECTION("a stray continuation byte is replaced at once") {
    Utf8Stream stream;
    CHECK(stream.push("a\x80") == "a" + kReplacement);
  }
}

TEST_CASE("TextStream makes text final only up to the first mask", "[utf8][text_stream]") {
  StreamFixture f;
  CHECK(f.stream.advance({5, M, 7, M}) == " In");
  CHECK(f.stream.tokens() == std::vector<std::int64_t>{5});
  CHECK(f.stream.advance({5, M, 7, M}).empty());  // nothing new
  CHECK(f.stream.advance({5, 6, 7, M}) == " the beginning");
  CHECK(f.stream.advance({5, 6, 7, 8}) == " God");
  CHECK(f.stream.tokens() == std::vector<std::int64_t>{5, 6, 7, 8});
  CHECK(f.stream.text() == " In the beginning God");
  CHECK(f.stream.finish().empty());
  CHECK_FALSE(f.stream.saw_eos());
}

TEST_CASE("TextStream stops at the end-of-sequence token", "[utf8][text_stream]") {
  StreamFixture f;
  SECTION("eos after final text") {
    CHECK(f.stream.advance({5, 6, E, 7, 8}) == " In the");
    CHECK(f.stream.saw_eos());
    CHECK(f.stream.tokens() == std::vector<std::int64_t>{5, 6});  // eos excluded
    CHECK(f.stream.advance({5, 6, E, 7, 8}).empty());
  }
  SECTION("an eos behind a mask is not final yet") {
    CHECK(f.stream.advance({5, M, E, 7}) == " In");
    CHECK_FALSE(f.stream.saw_eos());
    CHECK(f.stream.advance({5, 6, E, 7}) == " the");
    CHECK(f.stream.saw_eos());
    CHECK(f.stream.tokens() == std::vector<std::int64_t>{5, 6});
  }
  CHECK(f.stream.finish().empty());
  CHECK(f.stream.text() == " In the");
}

TEST_CASE("TextStream ends at whichever end id comes first: eos or end of turn", "[utf8][text_stream]") {
  const FakeTokenizer tokenizer;
  const std::int64_t eot = 9;
  dlm::TextStream stream{tokenizer, std::vector<std::int64_t>{E, eot}, M};
  CHECK(stream.advance({5, 6, eot, E, 7}) == " In the");
  CHECK(stream.saw_eos());
  CHECK(stream.finished());
  CHECK(stream.tokens() == std::vector<std::int64_t>{5, 6});
  dlm::TextStream eos_only{tokenizer, E, M};  // without an eot id, 9 is ordinary text
  eos_only.advance({5, eot, E});
  CHECK(eos_only.tokens() == std::vector<std::int64_t>{5, eot});
}

TEST_CASE("TextStream never emits part of a character spread over byte tokens",
          "[utf8][text_stream]") {
  StreamFixture f;
  // 10 11 12 = E2 80 94, an em dash in three byte-fallback tokens.
  CHECK(f.stream.advance({5, 10, M, M, 9}) == " In");
  CHECK(f.stream.advance({5, 10, 11, M, 9}).empty());
  CHECK(f.stream.tokens() == std::vector<std::int64_t>{5, 10, 11});  // final, bytes held
  CHECK(f.stream.advance({5, 10, 11, 12, 9}) == kEmDash + ",");
  CHECK(f.stream.text() == " In" + kEmDash + ",");
}

TEST_CASE("TextStream replaces a character cut short by eos on finish", "[utf8][text_stream]") {
  StreamFixture f;
  CHECK(f.stream.advance({5, 13, 14, 15, E}) == " In");  // three of four emoji bytes
  CHECK(f.stream.saw_eos());
  CHECK(f.stream.finish() == kReplacement);
  CHECK(f.stream.text() == " In" + kReplacement);
  CHECK(is_whole_utf8(f.stream.text()));
}

TEST_CASE("TextStream output is whole UTF-8 at every step of a byte-token canvas",
          "[utf8][text_stream]") {
  // Commit a canvas of mixed word and byte tokens left to right, one token per step.
  const std::vector<std::int64_t> final_canvas{5, 10, 11, 12, 6, 13, 14, 15, 16, 7, 10, 11, 12};
  StreamFixture f;
  std::vector<std::int64_t> canvas(final_canvas.size(), M);
  std::string joined;
  for (std::size_t i = 0; i < final_canvas.size(); ++i) {
    canvas[i] = final_canvas[i];
    const std::string out = f.stream.advance(canvas);
    INFO("step " << i);
    REQUIRE(is_whole_utf8(out));
    joined += out;
  }
  joined += f.stream.finish();
  CHECK(joined == f.tokenizer.decode_bytes(final_canvas));
  CHECK(joined == f.stream.text());
}
