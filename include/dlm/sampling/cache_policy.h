#pragma once
// Cache policies (Fast-dLLM): how each forward call of a row runs against its key/value
// cache, which window of the canvas a cached pass recomputes, and what the cache costs.
#include <cstdint>
#include <memory>
#include <optional>

#include "dlm/sampling/names.h"

namespace dlm {
struct GenerateOptions;
}

namespace dlm::sampling {

// How one forward call runs: the whole canvas without a cache, the whole canvas refreshing
// the cache (forward_kv), or a window of the canvas against the cache (forward_window).
enum class Pass { kPlain, kFull, kWindow };

class CachePolicy {
 public:
  virtual ~CachePolicy() = default;
  virtual CacheMode mode() const = 0;
  // The pass of the next call, after `calls_in_block` model calls in the current block.
  virtual Pass pass(std::int64_t calls_in_block) const = 0;
  // The end (canvas index, exclusive) of a window pass over a block that ends at
  // `block_end`, on a canvas of `length` tokens.
  virtual std::int64_t window_end(std::int64_t block_end, std::int64_t length) const = 0;
  // Elastic: the cosine similarity below which a window pass's key drift makes the next
  // call a full pass; nullopt for the fixed policies.
  virtual std::optional<double> drift_bound() const { return std::nullopt; }
  // Bytes of keys and values kept for `inputs` canvases padded to `padded` positions.
  virtual std::int64_t bytes(std::int64_t inputs, std::int64_t padded,
                             std::int64_t kv_bytes_per_token) const = 0;
};

// The policy of resolve_cache(options, supports_cache) (dlm/sampler.h).
std::unique_ptr<CachePolicy> make_cache_policy(const GenerateOptions& options,
                                               bool supports_cache);

}  // namespace dlm::sampling
