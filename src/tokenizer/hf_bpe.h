#pragma once
// The BPE model of a Hugging Face tokenizer.json: vocabulary, ranked merges, merging of
// one pre-tokenized word, and the byte-level alphabet (GPT-2's bytes_to_unicode).
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace dlm::hf {

// A token id of tokenizer.json: a JSON integer in [0, 2^63); anything else (a float such
// as 1.8e22, whose conversion would be undefined behaviour, a string) is a UsageError
// naming `what` and `origin`.
std::int64_t json_token_id(const nlohmann::json& value, const std::string& what,
                           const std::string& origin);

// GPT-2's reversible map of the 256 bytes onto printable characters ("Ġ" is the space).
const std::array<char32_t, 256>& byte_level_alphabet();
// The bytes a byte-level piece stands for; the piece's own UTF-8 bytes when one of its
// characters is outside the alphabet (as Hugging Face's ByteLevel decoder does).
std::string byte_level_decode(std::string_view piece);

// A BPE model (type "BPE"): builds from the "model" object; throws UsageError naming
// `origin` and the field for what it does not support (dropout, subword prefixes).
class BpeModel {
 public:
  BpeModel(const nlohmann::json& model, bool byte_level, const std::string& origin);

  // Appends the ids of one pre-tokenized word (its raw bytes; the byte-level mapping,
  // when on, is applied here). Memoized in a bounded cache.
  void tokenize(std::string_view word, std::vector<std::int64_t>& ids) const;

  const std::unordered_map<std::string, std::int64_t>& vocab() const { return vocab_; }

 private:
  struct Merge {
    std::int32_t rank;
    std::int32_t new_id;
  };
  void merge_word(std::string_view word, std::vector<std::int64_t>& ids) const;
  void initial_symbols(std::string_view word, std::vector<std::int32_t>& symbols) const;
  void add_unknown_or_bytes(std::string_view chr, std::vector<std::int32_t>& symbols,
                            std::int64_t& pending_unk) const;

  bool byte_level_;
  bool ignore_merges_ = false;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  std::int64_t unk_id_ = -1;
  std::unordered_map<std::string, std::int64_t> vocab_;
  std::unordered_map<std::uint64_t, Merge> merges_;  // (left id << 32 | right id)
  std::array<std::int32_t, 256> byte_ids_{};         // byte-level: each byte's id, or -1

  static constexpr std::size_t kCacheCapacity = 1 << 16;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<std::int64_t>> cache_;
};

}  // namespace dlm::hf
