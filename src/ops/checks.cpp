#include "ops/checks.h"

#include <ATen/ATen.h>

#include <sstream>

#include "dlm/error.h"

namespace dlm::ops::detail {
namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw Error(message);
}

// "op: name must be [rows] int64 on <device>, got [..] <dtype> on <device>".
void require_vector(const char* op, const char* name, const at::Tensor& t, std::int64_t rows,
                    const at::Device& device) {
  require(t.defined(), std::string(op) + ": " + name + " is undefined; pass a [" +
                           std::to_string(rows) + "] int64 tensor");
  std::ostringstream message;
  message << op << ": " << name << " must be a [" << rows << "] int64 tensor on " << device
          << ", got " << sizes_of(t) << " " << t.scalar_type() << " on " << t.device();
  require(t.dim() == 1 && t.size(0) == rows && t.scalar_type() == at::kLong && t.device() == device,
          message.str());
}

void require_matrix(const char* op, const char* name, const at::Tensor& t, at::IntArrayRef sizes,
                    at::ScalarType dtype, const at::Device& device) {
  std::ostringstream message;
  message << op << ": " << name << " must be a " << sizes << " " << dtype << " tensor on " << device
          << ", got ";
  if (t.defined()) {
    message << sizes_of(t) << " " << t.scalar_type() << " on " << t.device();
  } else {
    message << "an undefined tensor";
  }
  require(t.defined() && t.sizes() == sizes && t.scalar_type() == dtype && t.device() == device,
          message.str());
}

}  // namespace

std::string sizes_of(const at::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

TokenRule token_rule(std::int64_t style, std::int64_t algorithm, double temperature,
                     std::int64_t top_k, double top_p, double min_p, at::IntArrayRef banned,
                     at::IntArrayRef deferred) {
  require(style == static_cast<std::int64_t>(Style::kLlada) ||
              style == static_cast<std::int64_t>(Style::kDream),
          "dlm::score: style " + std::to_string(style) + " is unknown; use 0 (llada) or 1 (dream)");
  require(algorithm >= static_cast<std::int64_t>(Algorithm::kConfidence) &&
              algorithm <= static_cast<std::int64_t>(Algorithm::kAncestral),
          "dlm::score: algorithm " + std::to_string(algorithm) +
              " is unknown; use 0 (confidence) to 5 (ancestral), in dlm::Algorithm's order");
  TokenRule rule;
  rule.style = static_cast<Style>(style);
  rule.algorithm = static_cast<Algorithm>(algorithm);
  rule.temperature = temperature;
  rule.top_k = top_k;
  rule.top_p = top_p;
  rule.min_p = min_p;
  rule.banned.assign(banned.begin(), banned.end());
  rule.deferred.assign(deferred.begin(), deferred.end());
  return rule;
}

void check_score(const at::Tensor& logits, const at::Tensor& seeds, const at::Tensor& positions,
                 const at::Tensor& steps) {
  require(logits.defined(), "dlm::score: logits is undefined; pass [N, V] logits");
  const auto dtype = logits.scalar_type();
  require(logits.dim() == 2 && logits.size(1) >= 1,
          "dlm::score: logits must be [N, V] with V >= 1, got " + sizes_of(logits));
  require(dtype == at::kFloat || dtype == at::kBFloat16 || dtype == at::kHalf,
          std::string("dlm::score: logits must be float32, bfloat16 or float16, got ") +
              c10::toString(dtype) + "; convert them with .to(torch::kFloat)");
  const auto rows = logits.size(0);
  require_vector("dlm::score", "seeds", seeds, rows, logits.device());
  require_vector("dlm::score", "positions", positions, rows, logits.device());
  require_vector("dlm::score", "steps", steps, rows, logits.device());
}

CommitRule check_commit(const at::Tensor& scores, const at::Tensor& tokens,
                        const at::Tensor& eligible, const at::Tensor& canvas, const at::Tensor& k,
                        std::int64_t rule) {
  require(rule >= static_cast<std::int64_t>(CommitRule::kTopK) &&
              rule <= static_cast<std::int64_t>(CommitRule::kFactor),
          "dlm::commit: rule " + std::to_string(rule) +
              " is unknown; use 0 (top-k), 1 (threshold) or 2 (factor)");
  require(scores.defined() && scores.dim() == 2,
          "dlm::commit: scores must be [B, W] float64, got " +
              (scores.defined() ? sizes_of(scores) : std::string("an undefined tensor")));
  const auto device = scores.device();
  require_matrix("dlm::commit", "scores", scores, scores.sizes(), at::kDouble, device);
  require_matrix("dlm::commit", "tokens", tokens, scores.sizes(), at::kLong, device);
  require_matrix("dlm::commit", "eligible", eligible, scores.sizes(), at::kBool, device);
  require_matrix("dlm::commit", "canvas", canvas, scores.sizes(), at::kLong, device);
  const auto commit_rule = static_cast<CommitRule>(rule);
  if (commit_rule == CommitRule::kTopK)
    require_vector("dlm::commit", "k", k, scores.size(0), device);
  return commit_rule;
}

void check_cache_write(const at::Tensor& cache, const at::Tensor& fresh,
                       const at::Tensor& offsets) {
  require(cache.defined() && fresh.defined() && cache.dim() == 5 && fresh.dim() == 5,
          "dlm::cache_write: cache must be [L, B, H, S, hd] and fresh [L, B, H, W, hd], got " +
              (cache.defined() ? sizes_of(cache) : std::string("undefined")) + " and " +
              (fresh.defined() ? sizes_of(fresh) : std::string("undefined")));
  require(cache.size(0) == fresh.size(0) && cache.size(1) == fresh.size(1) &&
              cache.size(2) == fresh.size(2) && cache.size(4) == fresh.size(4),
          "dlm::cache_write: fresh " + sizes_of(fresh) + " does not match cache " +
              sizes_of(cache) + " outside the window dimension (3)");
  require(cache.scalar_type() == fresh.scalar_type() && at::isFloatingType(cache.scalar_type()),
          std::string("dlm::cache_write: cache and fresh must share one floating dtype, got ") +
              c10::toString(cache.scalar_type()) + " and " + c10::toString(fresh.scalar_type()));
  require(cache.device() == fresh.device(), "dlm::cache_write: cache is on " +
                                                cache.device().str() + " but fresh on " +
                                                fresh.device().str() + "; move them to one device");
  require(offsets.defined() && offsets.dim() == 1 && offsets.size(0) == cache.size(1) &&
              offsets.scalar_type() == at::kLong &&
              (offsets.device() == cache.device() || offsets.is_cpu()),
          "dlm::cache_write: offsets must be a [" + std::to_string(cache.size(1)) +
              "] int64 tensor on the CPU or " + cache.device().str() + ", got " +
              (offsets.defined() ? sizes_of(offsets) : std::string("an undefined tensor")));
  // Offsets already on the device are not read back (that would synchronise the stream in
  // every window pass): the kernel skips a row whose window does not fit instead.
  if (!offsets.is_cpu()) return;
  const at::Tensor host = offsets.contiguous();
  const auto* offset = host.data_ptr<std::int64_t>();
  const auto window = fresh.size(3);
  const auto length = cache.size(3);
  for (std::int64_t b = 0; b < host.size(0); ++b) {
    require(offset[b] >= 0 && offset[b] + window <= length,
            "dlm::cache_write: row " + std::to_string(b) + ": a window of " +
                std::to_string(window) + " at offset " + std::to_string(offset[b]) +
                " does not fit in a cache of length " + std::to_string(length) +
                "; offsets must lie in [0, " + std::to_string(length - window) + "]");
  }
}

}  // namespace dlm::ops::detail
