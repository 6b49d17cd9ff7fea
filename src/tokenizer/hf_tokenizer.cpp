// The hf tokenizer: added tokens, then NFC, then the pre-tokenizer, then BPE per word;
// the order of Hugging Face tokenizers' Tokenizer::encode (without its post-processor:
// dlm adds the beginning-of-sequence id itself, from config.json).
#include "hf_tokenizer.h"

#include <fmt/format.h>

#include <deque>
#include <nlohmann/json.hpp>

#include "dlm/error.h"
#include "hf_added_tokens.h"
#include "hf_bpe.h"
#include "hf_pretokenizer.h"
#include "hf_unicode.h"

namespace dlm {
namespace {

using nlohmann::json;

const char* kWayOut = "use a byte-level BPE tokenizer.json or a sentencepiece tokenizer.model";
// Far above any real vocabulary (Llama 3: 128,256; Qwen3: 151,669): a larger id is damage.
constexpr std::int64_t kMaxIds = std::int64_t{1} << 24;

// Normalizer: none or NFC (also a Sequence holding only NFC).
bool parse_normalizer(const json& spec, const std::string& origin) {
  if (spec.is_null()) return false;
  const auto type = spec.value("type", std::string());
  if (type == "NFC") return true;
  if (type == "Sequence" && spec.contains("normalizers") && spec["normalizers"].is_array()) {
    bool nfc = false;
    for (const auto& step : spec["normalizers"]) nfc = parse_normalizer(step, origin) || nfc;
    return nfc;
  }
  throw UsageError(fmt::format("{}: tokenizer.json normalizer '{}' is not supported by tokenizer kind "
                               "hf (supported: none, NFC); {}", origin, type.empty() ? spec.dump().substr(0, 60) : type, kWayOut));
}

void check_decoder(const json& spec, const std::string& origin) {
  const auto type = spec.is_object() ? spec.value("type", std::string()) : std::string("none");
  if (type == "ByteLevel") return;
  throw UsageError(fmt::format("{}: tokenizer.json decoder '{}' is not supported by tokenizer kind hf "
                               "(supported: ByteLevel); {}", origin, type, kWayOut));
}

class HfTokenizer : public Tokenizer {
 public:
  HfTokenizer(const json& j, const std::string& origin) {
    nfc_ = parse_normalizer(j.value("normalizer", json()), origin);
    bool byte_level = false;
    pre_tokenizer_ = hf::make_pre_tokenizer(j.value("pre_tokenizer", json()), origin, byte_level);
    if (!byte_level) {
      throw UsageError(fmt::format("{}: tokenizer.json has no ByteLevel pre-tokenizer; tokenizer kind "
                                   "hf reads byte-level BPE only; {}", origin, kWayOut));
    }
    check_decoder(j.value("decoder", json()), origin);
    if (!j.contains("model") || !j["model"].is_object()) {
      throw UsageError(fmt::format("{}: tokenizer.json has no model object; the file is damaged", origin));
    }
    model_ = std::make_unique<hf::BpeModel>(j["model"], byte_level, origin);

    std::vector<hf::AddedToken> raw, normalized, all;
    for (const auto& a : j.value("added_tokens", json::array())) {
      hf::AddedToken t;
      t.id = hf::json_token_id(a.at("id"), "added token id", origin);
      t.content = a.at("content").get<std::string>();
      t.special = a.value("special", false);
      t.lstrip = a.value("lstrip", false);
      t.rstrip = a.value("rstrip", false);
      t.single_word = a.value("single_word", false);
      t.normalized = a.value("normalized", !t.special);
      if (t.id < 0) throw UsageError(fmt::format("{}: tokenizer.json added token '{}' has a negative id", origin, t.content));
      (t.normalized ? normalized : raw).push_back(t);
      all.push_back(t);
    }
    raw_tokens_ = hf::AddedTokenMatcher(std::move(raw));
    normalized_tokens_ = hf::AddedTokenMatcher(std::move(normalized));

    // The largest id first: id + 1 would overflow for an id of 2^63 - 1 (found by fuzzing).
    std::int64_t max_id = -1;
    for (const auto& [piece, id] : model_->vocab()) max_id = std::max(max_id, id);
    for (const auto& t : all) max_id = std::max(max_id, t.id);
    if (max_id >= kMaxIds) {
      throw UsageError(fmt::format("{}: tokenizer.json has id {} (more than {} ids); the file is "
                                   "damaged", origin, max_id, kMaxIds));
    }
    const std::int64_t size = max_id + 1;
    pieces_.resize(static_cast<std::size_t>(size));
    texts_.resize(static_cast<std::size_t>(size));
    for (const auto& [piece, id] : model_->vocab()) {
      if (id < 0) continue;
      texts_[static_cast<std::size_t>(id)] = piece;
      pieces_[static_cast<std::size_t>(id)] = hf::byte_level_decode(piece);
    }
    for (const auto& t : all) {
      texts_[static_cast<std::size_t>(t.id)] = t.content;
      // A special token is a control token: it contributes no text (as skip_special_tokens).
      pieces_[static_cast<std::size_t>(t.id)] = t.special ? std::string() : t.content;
    }
  }

  std::vector<std::int64_t> encode(std::string_view text) const override {
    const auto bad = hf::invalid_utf8_offset(text);
    if (bad != std::string_view::npos) {
      throw UsageError(fmt::format("the text is not valid UTF-8 (byte {} of {}, 0x{:02X}); tokenizer "
                                   "kind hf encodes UTF-8 text only: convert it (iconv -t UTF-8)",
                                   bad, text.size(), static_cast<unsigned char>(text[bad])));
    }
    std::vector<std::int64_t> ids;
    std::vector<hf::Segment> segments, inner;
    std::deque<std::string> arena;
    hf::Pieces pieces;
    raw_tokens_.split(text, segments);
    for (const auto& segment : segments) {
      if (segment.id >= 0) {
        ids.push_back(segment.id);
        continue;
      }
      std::string_view part = text.substr(segment.start, segment.end - segment.start);
      if (nfc_) {
        arena.push_back(hf::nfc(part));
        part = arena.back();
      }
      inner.clear();
      normalized_tokens_.split(part, inner);
      for (const auto& s : inner) {
        if (s.id >= 0) {
          ids.push_back(s.id);
          continue;
        }
        pieces.assign(1, part.substr(s.start, s.end - s.start));
        pre_tokenizer_->split(pieces, arena);
        for (const auto piece : pieces) model_->tokenize(piece, ids);
      }
    }
    return ids;
  }

  std::int64_t size() const override { return static_cast<std::int64_t>(pieces_.size()); }
  const std::string& piece_bytes(std::int64_t id) const override {
    static const std::string empty;
    return (id >= 0 && id < size()) ? pieces_[static_cast<std::size_t>(id)] : empty;
  }
  std::string token_text(std::int64_t id) const override {
    return (id >= 0 && id < size()) ? texts_[static_cast<std::size_t>(id)] : std::string();
  }
  std::string kind() const override { return "hf"; }

 private:
  bool nfc_ = false;
  std::unique_ptr<hf::PreTokenizer> pre_tokenizer_;
  std::unique_ptr<hf::BpeModel> model_;
  hf::AddedTokenMatcher raw_tokens_, normalized_tokens_;
  std::vector<std::string> pieces_, texts_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_hf_tokenizer(const std::string& json_text, const std::string& origin) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    std::string what = e.what();
    throw UsageError(fmt::format("{}: tokenizer.json is not valid JSON ({}); re-export the checkpoint "
                                 "with the model's tokenizer.json", origin, what.substr(0, what.find('\n'))));
  }
  if (!j.is_object()) {
    throw UsageError(fmt::format("{}: tokenizer.json is not a JSON object; re-export the checkpoint "
                                 "with the model's tokenizer.json", origin));
  }
  try {
    return std::make_unique<HfTokenizer>(j, origin);
  } catch (const json::exception& e) {
    std::string what = e.what();
    throw UsageError(fmt::format("{}: tokenizer.json has an unexpected field ({}); the file is "
                                 "damaged or from an unsupported version", origin,
                                 what.substr(0, what.find('\n'))));
  }
}

}  // namespace dlm
