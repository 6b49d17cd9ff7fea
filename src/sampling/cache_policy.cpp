#include "dlm/sampling/cache_policy.h"

#include "dlm/sampling/sampler.h"

namespace dlm {

CacheMode resolve_cache(const GenerateOptions& o, bool supports_cache) {
  if (o.cache != CacheMode::kAuto) return o.cache;
  return o.schedule == Schedule::kBlock && supports_cache ? CacheMode::kDual : CacheMode::kNone;
}

}  // namespace dlm

namespace dlm::sampling {
namespace {

// Every call runs the whole canvas.
class NoCache final : public CachePolicy {
 public:
  CacheMode mode() const override { return CacheMode::kNone; }
  Pass pass(std::int64_t /*calls_in_block*/) const override { return Pass::kPlain; }
  std::int64_t window_end(std::int64_t /*block_end*/, std::int64_t length) const override {
    return length;
  }
  std::int64_t bytes(std::int64_t, std::int64_t, std::int64_t) const override { return 0; }
};

// A block's first call (and every `refresh`-th, when set) runs the whole canvas and
// refreshes the cache; the others run a window against it: from the block's start to the
// canvas end (prefix) or to the block's end (dual, elastic). Elastic also refreshes after a
// window pass whose keys drifted (Row::note_similarity).
class KvCache final : public CachePolicy {
 public:
  KvCache(CacheMode mode, std::int64_t refresh, double gamma)
      : mode_(mode), refresh_(refresh), gamma_(gamma) {}
  CacheMode mode() const override { return mode_; }
  Pass pass(std::int64_t calls) const override {
    const bool refresh = calls == 0 || (refresh_ > 0 && calls % refresh_ == 0);
    return refresh ? Pass::kFull : Pass::kWindow;
  }
  std::int64_t window_end(std::int64_t block_end, std::int64_t length) const override {
    return mode_ == CacheMode::kPrefix ? length : block_end;
  }
  std::optional<double> drift_bound() const override {
    return mode_ == CacheMode::kElastic ? std::optional<double>(gamma_) : std::nullopt;
  }
  std::int64_t bytes(std::int64_t inputs, std::int64_t padded,
                     std::int64_t kv_bytes_per_token) const override {
    return inputs * padded * kv_bytes_per_token;
  }

 private:
  CacheMode mode_;
  std::int64_t refresh_;
  double gamma_;
};

}  // namespace

std::unique_ptr<CachePolicy> make_cache_policy(const GenerateOptions& o, bool supports_cache) {
  const CacheMode mode = resolve_cache(o, supports_cache);
  if (mode == CacheMode::kNone) return std::make_unique<NoCache>();
  return std::make_unique<KvCache>(mode, o.cache_refresh, o.elastic_gamma);
}

}  // namespace dlm::sampling
