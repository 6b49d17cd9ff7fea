#include "hf_pretokenizer.h"

#include <fmt/format.h>
#include <oniguruma.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>

#include "dlm/error.h"

namespace dlm::hf {
namespace {

using nlohmann::json;

// GPT-2's pattern, used by ByteLevel when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

const char* kWayOut = "use a byte-level BPE tokenizer.json (Split, ByteLevel) or a sentencepiece "
                      "tokenizer.model";

// A span of a piece and whether the pattern matched it.
struct Span {
  std::size_t start, end;
  bool match;
};

// A compiled Oniguruma regex (UTF-8, default Ruby syntax, no options: as the onig crate's
// Regex::new that HF tokenizers calls).
class OnigPattern {
 public:
  OnigPattern(const std::string& pattern, const std::string& origin) {
    static std::once_flag once;
    std::call_once(once, [] {
      OnigEncoding encodings[1] = {ONIG_ENCODING_UTF8};
      onig_initialize(encodings, 1);
    });
    OnigErrorInfo info;
    const auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
    const int rc = onig_new(&regex_, p, p + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                            ONIG_SYNTAX_DEFAULT, &info);
    if (rc != ONIG_NORMAL) {
      OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
      onig_error_code_to_str(message, rc, &info);
      throw UsageError(fmt::format("{}: tokenizer.json pre_tokenizer regex /{}/ does not compile "
                                   "({}); the file is damaged", origin, pattern,
                                   reinterpret_cast<const char*>(message)));
    }
  }
  ~OnigPattern() { onig_free(regex_); }
  OnigPattern(const OnigPattern&) = delete;
  OnigPattern& operator=(const OnigPattern&) = delete;

  // Matches and the text between them, in order (the onig crate's find_iter: an empty
  // match right after the previous match is skipped).
  void find(std::string_view text, std::vector<Span>& spans) const {
    OnigRegion* region = onig_region_new();
    const auto* s = reinterpret_cast<const OnigUChar*>(text.data());
    const auto* end = s + text.size();
    std::size_t from = 0, prev = 0;
    std::ptrdiff_t last_match_end = -1;
    while (from <= text.size()) {
      const int r = onig_search(regex_, s, end, s + from, end, region, ONIG_OPTION_NONE);
      if (r < 0) break;
      const auto ms = static_cast<std::size_t>(region->beg[0]);
      const auto me = static_cast<std::size_t>(region->end[0]);
      if (ms == me && last_match_end == static_cast<std::ptrdiff_t>(me)) {
        if (from >= text.size()) break;
        from += utf8_length(static_cast<unsigned char>(text[from]));
        continue;
      }
      from = me;
      last_match_end = static_cast<std::ptrdiff_t>(me);
      if (prev != ms) spans.push_back({prev, ms, false});
      spans.push_back({ms, me, true});
      prev = me;
    }
    onig_region_free(region, 1);
    if (prev != text.size()) spans.push_back({prev, text.size(), false});
  }

 private:
  static std::size_t utf8_length(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }
  regex_t* regex_ = nullptr;
};

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

Behavior parse_behavior(const json& spec, const std::string& origin) {
  const auto name = spec.value("behavior", std::string("Isolated"));
  if (name == "Removed") return Behavior::kRemoved;
  if (name == "Isolated") return Behavior::kIsolated;
  if (name == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return Behavior::kMergedWithNext;
  if (name == "Contiguous") return Behavior::kContiguous;
  throw UsageError(fmt::format("{}: tokenizer.json Split behavior '{}' is unknown (Removed, Isolated, "
                               "MergedWithPrevious, MergedWithNext, Contiguous); the file is damaged",
                               origin, name));
}

// HF's NormalizedString::split: spans to keep (match == false) or drop (match == true).
void apply_behavior(Behavior behavior, std::vector<Span>& spans) {
  std::vector<Span> out;
  out.reserve(spans.size());
  switch (behavior) {
    case Behavior::kRemoved:
      return;  // matches are the removed parts
    case Behavior::kIsolated:
      for (auto& s : spans) s.match = false;
      return;
    case Behavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const auto& s : spans) {
        if (s.match && !previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back({s.start, s.end, false});
        }
        previous_match = s.match;
      }
      break;
    }
    case Behavior::kMergedWithNext: {
      bool previous_match = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->match && !previous_match && !out.empty()) {
          out.back().start = it->start;
        } else {
          out.push_back({it->start, it->end, false});
        }
        previous_match = it->match;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
    case Behavior::kContiguous: {
      int previous = -1;
      for (const auto& s : spans) {
        if (previous == static_cast<int>(s.match) && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back({s.start, s.end, false});
        }
        previous = static_cast<int>(s.match);
      }
      break;
    }
  }
  spans.swap(out);
}

// Split: a regex (Oniguruma) or a literal string; behavior and invert as in HF.
class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(const json& spec, const std::string& origin)
      : behavior_(parse_behavior(spec, origin)), invert_(spec.value("invert", false)) {
    const auto& pattern = spec.at("pattern");
    if (pattern.contains("Regex")) {
      regex_ = std::make_unique<OnigPattern>(pattern["Regex"].get<std::string>(), origin);
    } else if (pattern.contains("String")) {
      literal_ = pattern["String"].get<std::string>();
    } else {
      throw UsageError(fmt::format("{}: tokenizer.json Split pattern {} is neither Regex nor String; "
                                   "the file is damaged", origin, pattern.dump()));
    }
  }
  SplitPreTokenizer(std::unique_ptr<OnigPattern> regex, Behavior behavior)
      : regex_(std::move(regex)), behavior_(behavior), invert_(false) {}

  void split(Pieces& pieces, std::deque<std::string>&) const override {
    Pieces out;
    out.reserve(pieces.size() * 2);
    std::vector<Span> spans;
    for (const auto piece : pieces) {
      spans.clear();
      if (piece.empty()) continue;
      find(piece, spans);
      if (invert_) {
        for (auto& s : spans) s.match = !s.match;
      }
      apply_behavior(behavior_, spans);
      for (const auto& s : spans) {
        if (!s.match && s.end > s.start) out.push_back(piece.substr(s.start, s.end - s.start));
      }
    }
    pieces.swap(out);
  }

 private:
  void find(std::string_view text, std::vector<Span>& spans) const {
    if (regex_) {
      regex_->find(text, spans);
      return;
    }
    std::size_t prev = 0;
    if (!literal_.empty()) {
      for (auto at = text.find(literal_); at != std::string_view::npos; at = text.find(literal_, at + literal_.size())) {
        if (at != prev) spans.push_back({prev, at, false});
        spans.push_back({at, at + literal_.size(), true});
        prev = at + literal_.size();
      }
    }
    if (prev != text.size()) spans.push_back({prev, text.size(), false});
  }

  std::unique_ptr<OnigPattern> regex_;
  std::string literal_;
  Behavior behavior_;
  bool invert_;
};

// ByteLevel: a prefix space on each piece that lacks one (add_prefix_space), then GPT-2's
// split (use_regex). The byte-to-character mapping itself is done by the BPE model.
class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(const json& spec, const std::string& origin)
      : add_prefix_space_(spec.value("add_prefix_space", true)) {
    if (spec.value("use_regex", true)) {
      gpt2_ = std::make_unique<SplitPreTokenizer>(std::make_unique<OnigPattern>(kGpt2Pattern, origin),
                                                  Behavior::kIsolated);
    }
  }

  void split(Pieces& pieces, std::deque<std::string>& arena) const override {
    if (add_prefix_space_) {
      for (auto& piece : pieces) {
        if (!piece.empty() && piece.front() != ' ') {
          arena.push_back(" " + std::string(piece));
          piece = arena.back();
        }
      }
    }
    if (gpt2_) gpt2_->split(pieces, arena);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<SplitPreTokenizer> gpt2_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  void split(Pieces& pieces, std::deque<std::string>& arena) const override {
    for (const auto& step : steps_) step->split(pieces, arena);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& spec, const std::string& origin,
                                                 bool& byte_level) {
  if (spec.is_null()) return std::make_unique<SequencePreTokenizer>(std::vector<std::unique_ptr<PreTokenizer>>{});
  const auto type = spec.is_object() ? spec.value("type", std::string()) : std::string();
  try {
    if (type == "Split") return std::make_unique<SplitPreTokenizer>(spec, origin);
    if (type == "ByteLevel") {
      byte_level = true;
      return std::make_unique<ByteLevelPreTokenizer>(spec, origin);
    }
    if (type == "Sequence") {
      std::vector<std::unique_ptr<PreTokenizer>> steps;
      for (const auto& step : spec.at("pretokenizers")) steps.push_back(make_pre_tokenizer(step, origin, byte_level));
      return std::make_unique<SequencePreTokenizer>(std::move(steps));
    }
  } catch (const json::exception& e) {
    throw UsageError(fmt::format("{}: tokenizer.json pre_tokenizer {} is malformed ({}); the file "
                                 "is damaged", origin, type, e.what()));
  }
  throw UsageError(fmt::format("{}: tokenizer.json pre_tokenizer '{}' is not supported by tokenizer "
                               "kind hf (supported: Split, ByteLevel, Sequence); {}", origin,
                               type.empty() ? spec.dump().substr(0, 60) : type, kWayOut));
}

}  // namespace dlm::hf
