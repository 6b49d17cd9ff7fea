#include "hf_bpe.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <queue>

#include "dlm/error.h"
#include "hf_unicode.h"

namespace dlm::hf {

std::int64_t json_token_id(const nlohmann::json& value, const std::string& what,
                           const std::string& origin) {
  const bool fits = value.is_number_integer() &&
                    (!value.is_number_unsigned() ||
                     value.get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX));
  if (!fits || value.get<std::int64_t>() < 0) {
    throw UsageError(fmt::format("{}: tokenizer.json {} {} is not an integer in [0, 2^63); the "
                                 "file is damaged", origin, what, value.dump()));
  }
  return value.get<std::int64_t>();
}

using nlohmann::json;

const std::array<char32_t, 256>& byte_level_alphabet() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      t[static_cast<std::size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

std::string byte_level_decode(std::string_view piece) {
  static const std::unordered_map<char32_t, unsigned char> inverse = [] {
    std::unordered_map<char32_t, unsigned char> m;
    const auto& table = byte_level_alphabet();
    for (int b = 0; b < 256; ++b) m[table[static_cast<std::size_t>(b)]] = static_cast<unsigned char>(b);
    return m;
  }();
  std::string out;
  std::size_t i = 0;
  while (i < piece.size()) {
    const auto it = inverse.find(next_code_point(piece, i));
    if (it == inverse.end()) return std::string(piece);
    out += static_cast<char>(it->second);
  }
  return out;
}

namespace {

std::uint64_t pair_key(std::int64_t left, std::int64_t right) {
  return (static_cast<std::uint64_t>(left) << 32) | static_cast<std::uint32_t>(right);
}

[[noreturn]] void unsupported(const std::string& origin, const std::string& what) {
  throw UsageError(fmt::format("{}: tokenizer.json model: {} is not supported by tokenizer kind "
                               "hf (byte-level BPE only); use a sentencepiece tokenizer.model "
                               "or a byte-level BPE tokenizer.json", origin, what));
}

// The two forms of a merge: "a b" (older files) and ["a", "b"].
std::pair<std::string, std::string> merge_parts(const json& merge, const std::string& origin) {
  if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
    return {merge[0].get<std::string>(), merge[1].get<std::string>()};
  }
  if (merge.is_string()) {
    const auto& s = merge.get_ref<const std::string&>();
    const auto space = s.find(' ');
    if (space != std::string::npos && s.find(' ', space + 1) == std::string::npos) {
      return {s.substr(0, space), s.substr(space + 1)};
    }
  }
  throw UsageError(fmt::format("{}: tokenizer.json model.merges has an entry {} that is neither "
                               "\"a b\" nor [\"a\", \"b\"]; the file is damaged", origin,
                               merge.dump().substr(0, 80)));
}

}  // namespace

BpeModel::BpeModel(const json& model, bool byte_level, const std::string& origin)
    : byte_level_(byte_level) {
  const auto type = model.value("type", std::string("BPE"));
  if (type != "BPE") unsupported(origin, fmt::format("type '{}'", type));
  if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"].get<double>() != 0.0) {
    unsupported(origin, "dropout");
  }
  for (const char* field : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(field) && !model[field].is_null() && !model[field].get<std::string>().empty()) {
      unsupported(origin, field);
    }
  }
  if (!model.contains("vocab") || !model["vocab"].is_object() || !model.contains("merges") ||
      !model["merges"].is_array()) {
    throw UsageError(fmt::format("{}: tokenizer.json model has no vocab object or merges list; "
                                 "the file is damaged", origin));
  }
  ignore_merges_ = model.value("ignore_merges", false);
  byte_fallback_ = model.value("byte_fallback", false);
  fuse_unk_ = model.value("fuse_unk", false);
  vocab_.reserve(model["vocab"].size());
  for (const auto& [piece, id] : model["vocab"].items()) {
    vocab_.emplace(piece, json_token_id(id, "vocabulary id", origin));
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    const auto it = vocab_.find(model["unk_token"].get<std::string>());
    if (it == vocab_.end()) {
      throw UsageError(fmt::format("{}: tokenizer.json unk_token '{}' is not in the vocabulary; the "
                                   "file is damaged", origin, model["unk_token"].get<std::string>()));
    }
    unk_id_ = it->second;
  }
  const auto& merges = model["merges"];
  merges_.reserve(merges.size());
  std::int32_t rank = 0;
  for (const auto& merge : merges) {
    const auto [left, right] = merge_parts(merge, origin);
    const auto l = vocab_.find(left), r = vocab_.find(right), m = vocab_.find(left + right);
    if (l == vocab_.end() || r == vocab_.end() || m == vocab_.end()) {
      throw UsageError(fmt::format("{}: tokenizer.json merge '{} {}' uses a piece outside the "
                                   "vocabulary; the file is damaged", origin, left, right));
    }
    // A repeated pair keeps its last rank, as Hugging Face's map does.
    merges_[pair_key(l->second, r->second)] = Merge{rank++, static_cast<std::int32_t>(m->second)};
  }
  const auto& alphabet = byte_level_alphabet();
  for (int b = 0; b < 256; ++b) {
    std::string chr;
    append_utf8(chr, alphabet[static_cast<std::size_t>(b)]);
    const auto it = vocab_.find(chr);
    byte_ids_[static_cast<std::size_t>(b)] = it == vocab_.end() ? -1 : static_cast<std::int32_t>(it->second);
  }
}

void BpeModel::add_unknown_or_bytes(std::string_view chr, std::vector<std::int32_t>& symbols,
                                    std::int64_t& pending_unk) const {
  if (byte_fallback_) {
    std::vector<std::int32_t> bytes;
    for (const char c : chr) {
      const auto it = vocab_.find(fmt::format("<0x{:02X}>", static_cast<unsigned char>(c)));
      if (it == vocab_.end()) break;
      bytes.push_back(static_cast<std::int32_t>(it->second));
    }
    if (bytes.size() == chr.size()) {
      if (pending_unk >= 0) symbols.push_back(static_cast<std::int32_t>(pending_unk));
      pending_unk = -1;
      symbols.insert(symbols.end(), bytes.begin(), bytes.end());
      return;
    }
  }
  if (unk_id_ < 0) return;  // no unknown token: the character is dropped, as in HF
  if (pending_unk >= 0 && !fuse_unk_) symbols.push_back(static_cast<std::int32_t>(pending_unk));
  pending_unk = unk_id_;
}

void BpeModel::initial_symbols(std::string_view word, std::vector<std::int32_t>& symbols) const {
  std::int64_t pending_unk = -1;
  const auto add_known = [&](std::int32_t id) {
    if (pending_unk >= 0) symbols.push_back(static_cast<std::int32_t>(pending_unk));
    pending_unk = -1;
    symbols.push_back(id);
  };
  if (byte_level_) {
    const auto& alphabet = byte_level_alphabet();
    for (const char c : word) {
      const auto b = static_cast<unsigned char>(c);
      if (byte_ids_[b] >= 0) {
        add_known(byte_ids_[b]);
      } else {
        std::string chr;
        append_utf8(chr, alphabet[b]);
        add_unknown_or_bytes(chr, symbols, pending_unk);
      }
    }
  } else {
    std::size_t i = 0;
    while (i < word.size()) {
      const std::size_t start = i;
      next_code_point(word, i);
      const std::string chr(word.substr(start, i - start));
      const auto it = vocab_.find(chr);
      if (it != vocab_.end()) {
        add_known(static_cast<std::int32_t>(it->second));
      } else {
        add_unknown_or_bytes(chr, symbols, pending_unk);
      }
    }
  }
  if (pending_unk >= 0) symbols.push_back(static_cast<std::int32_t>(pending_unk));
}

void BpeModel::merge_word(std::string_view word, std::vector<std::int64_t>& ids) const {
  if (ignore_merges_) {
    std::string mapped;
    if (byte_level_) {
      const auto& alphabet = byte_level_alphabet();
      for (const char c : word) append_utf8(mapped, alphabet[static_cast<unsigned char>(c)]);
    } else {
      mapped = std::string(word);
    }
    const auto it = vocab_.find(mapped);
    if (it != vocab_.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  std::vector<std::int32_t> id;
  initial_symbols(word, id);
  const auto n = static_cast<std::int32_t>(id.size());
  std::vector<std::int32_t> prev(id.size()), next(id.size());
  std::vector<bool> alive(id.size(), true);
  for (std::int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  // Lowest rank first, then leftmost; stale entries are skipped when popped (HF's Word::merge_all).
  struct Candidate {
    std::int32_t rank, pos, new_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto push = [&](std::int32_t left) {
    if (left < 0 || next[left] < 0) return;
    const auto it = merges_.find(pair_key(id[left], id[next[left]]));
    if (it != merges_.end()) queue.push({it->second.rank, left, it->second.new_id});
  };
  for (std::int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    if (!alive[top.pos] || next[top.pos] < 0) continue;
    const std::int32_t right = next[top.pos];
    const auto it = merges_.find(pair_key(id[top.pos], id[right]));
    if (it == merges_.end() || it->second.new_id != top.new_id) continue;
    id[top.pos] = top.new_id;
    alive[right] = false;
    next[top.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = top.pos;
    push(prev[top.pos]);
    push(top.pos);
  }
  for (std::int32_t i = 0; i < n; ++i) {
    if (alive[i]) ids.push_back(id[i]);
  }
}

void BpeModel::tokenize(std::string_view word, std::vector<std::int64_t>& ids) const {
  if (word.empty()) return;
  const std::string key(word);
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    const auto it = cache_.find(key);
    if (it != cache_.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const std::size_t before = ids.size();
  merge_word(word, ids);
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() >= kCacheCapacity) cache_.clear();  // bounded: start over when full
  cache_.emplace(key, std::vector<std::int64_t>(ids.begin() + static_cast<std::ptrdiff_t>(before), ids.end()));
}

}  // namespace dlm::hf
