#include "dlm/sampling/selector.h"

#include <stdexcept>

#include "dlm/sampling/rng.h"
#include "dlm/sampling/sampler.h"
#include "dlm/sampling/scoring.h"

namespace dlm::sampling {

std::vector<std::int64_t> Selector::pick(const std::vector<double>& /*scores*/,
                                         const std::vector<double>& /*entropies*/,
                                         const std::vector<std::uint64_t>& /*positions*/,
                                         std::int64_t /*k*/, std::uint64_t /*seed*/,
                                         std::uint64_t /*step*/) const {
  throw std::logic_error("this selector does not pick on the host");
}

std::vector<std::int64_t> Selector::draw(const Step& /*step*/, const Span& /*span*/,
                                         std::uint64_t /*seed*/, std::uint64_t /*step_index*/) const {
  throw std::logic_error("this selector does not reveal");
}

bool runs_in_commit_op(SelectorKind kind) {
  return kind == SelectorKind::kTopK || kind == SelectorKind::kThreshold ||
         kind == SelectorKind::kFactor;
}

namespace {

// The k best scores (LLaDA, Dream's default), ties to the lowest position.
class TopK final : public Selector {
 public:
  SelectorKind kind() const override { return SelectorKind::kTopK; }
  bool counted() const override { return true; }
};

// Fast-dLLM's parallel rules: the commit count follows the scores.
class ParallelRule final : public Selector {
 public:
  ParallelRule(SelectorKind kind, double value) : kind_(kind), value_(value) {}
  SelectorKind kind() const override { return kind_; }
  double value() const override { return value_; }

 private:
  SelectorKind kind_;
  double value_;
};

// Dream's alg_temp: k positions drawn from softmax(score / alg_temp) (Gumbel-top-k).
class Sampled final : public Selector {
 public:
  explicit Sampled(double alg_temp) : alg_temp_(alg_temp) {}
  SelectorKind kind() const override { return SelectorKind::kSampled; }
  bool counted() const override { return true; }
  bool picks_on_host() const override { return true; }
  std::vector<std::int64_t> pick(const std::vector<double>& scores,
                                 const std::vector<double>& /*entropies*/,
                                 const std::vector<std::uint64_t>& positions, std::int64_t k,
                                 std::uint64_t seed, std::uint64_t step) const override {
    return select_sampled(scores, positions, k, alg_temp_, seed, step);
  }

 private:
  double alg_temp_;
};

// EB-sampler (arXiv 2505.24857): the scores (confidence, margin, entropy) order the
// positions, their entropies bound how many commit; the block is stepped until no
// position is masked, like the threshold rule.
class EntropyBounded final : public Selector {
 public:
  explicit EntropyBounded(double gamma) : gamma_(gamma) {}
  SelectorKind kind() const override { return SelectorKind::kEntropyBounded; }
  double value() const override { return gamma_; }
  bool picks_on_host() const override { return true; }
  bool needs_entropy() const override { return true; }
  std::vector<std::int64_t> pick(const std::vector<double>& scores,
                                 const std::vector<double>& entropies,
                                 const std::vector<std::uint64_t>& /*positions*/,
                                 std::int64_t /*k*/, std::uint64_t /*seed*/,
                                 std::uint64_t /*step*/) const override {
    return select_entropy_bounded(scores, entropies, gamma_);
  }

 private:
  double gamma_;
};

// Dream's origin and MDLM's ancestral sampler: a masked position is revealed when its
// uniform draw (stream kReveal) is below p_transfer; ancestral reuses the model output
// while the canvas has not changed since it was computed.
class Reveal final : public Selector {
 public:
  explicit Reveal(bool reuse) : reuse_(reuse) {}
  SelectorKind kind() const override { return SelectorKind::kReveal; }
  bool reuses_output() const override { return reuse_; }
  std::vector<std::int64_t> draw(const Step& step, const Span& span, std::uint64_t seed,
                                 std::uint64_t step_index) const override {
    std::vector<std::int64_t> revealed;
    for (std::int64_t p = step.a; p < step.b; ++p) {
      if (span.ids[static_cast<std::size_t>(p)] != span.mask_id) continue;
      const double u =
          RngKey(seed, static_cast<std::uint64_t>(p), step_index, RngStream::kReveal).uniform(0);
      if (u < static_cast<double>(step.p_transfer)) revealed.push_back(p);
    }
    return revealed;
  }

 private:
  bool reuse_;
};

}  // namespace

std::unique_ptr<Selector> make_selector(const GenerateOptions& o) {
  if (o.algorithm == Algorithm::kOrigin) return std::make_unique<Reveal>(false);
  if (o.algorithm == Algorithm::kAncestral) return std::make_unique<Reveal>(true);
  if (o.eb_gamma) return std::make_unique<EntropyBounded>(*o.eb_gamma);
  if (o.threshold) return std::make_unique<ParallelRule>(SelectorKind::kThreshold, *o.threshold);
  if (o.factor) return std::make_unique<ParallelRule>(SelectorKind::kFactor, *o.factor);
  if (o.alg_temp > 0) return std::make_unique<Sampled>(o.alg_temp);
  return std::make_unique<TopK>();
}

}  // namespace dlm::sampling
