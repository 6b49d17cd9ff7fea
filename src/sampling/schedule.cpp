#include "dlm/sampling/schedule.h"

#include "dlm/sampling/sampler.h"
#include "dlm/sampling/block_plan.h"

namespace dlm::sampling {

std::int64_t Span::count_masked(std::int64_t a, std::int64_t b) const {
  std::int64_t m = 0;
  for (std::int64_t p = a; p < b; ++p) m += ids[static_cast<std::size_t>(p)] == mask_id;
  return m;
}

std::vector<float> timestep_grid(double eps, std::int64_t steps) {
  // torch's symmetric linspace: the first half counts up from 1, the second down from eps.
  const std::int64_t n = steps + 1;
  const float start = 1.0f;
  const auto end = static_cast<float>(eps);
  const float step = (end - start) / static_cast<float>(n - 1);
  std::vector<float> ts(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    ts[i] = i < n / 2 ? start + step * static_cast<float>(i)
                      : end - step * static_cast<float>(n - i - 1);
  }
  return ts;
}

namespace {

// LLaDA's semi-autoregressive blocks: each block's steps commit transfer_counts of its
// length (counted), or the block is stepped until no position is masked (threshold, factor).
class BlockSchedule final : public Schedule {
 public:
  BlockSchedule(const GenerateOptions& o, bool counted)
      : counted_(counted),
        plan_(plan_blocks(o.max_new_tokens, o.block_length,
                          counted ? o.steps : o.max_new_tokens)),
        planned_(counted ? o.steps : o.max_new_tokens) {}

  std::optional<Step> next(const Span& span, std::int64_t& skipped) override {
    while (block_ < plan_.size()) {
      const BlockPlan& blk = plan_[block_];
      const std::int64_t a = blk.start, b = blk.start + blk.length;
      const auto index = static_cast<std::int64_t>(block_);
      if (!counted_) {
        if (span.count_masked(a, b) > 0) return Step{a, b, 0, 0.0f, index};
      } else {
        if (sub_ == 0) counts_ = transfer_counts(blk.length, blk.steps);
        while (sub_ < counts_.size()) {
          const std::int64_t k = counts_[sub_++];
          if (k > 0) return Step{a, b, k, 0.0f, index};
          ++skipped;
        }
      }
      ++block_;
      sub_ = 0;
    }
    return std::nullopt;
  }

  std::int64_t planned_steps() const override { return planned_; }

 private:
  bool counted_;
  std::vector<BlockPlan> plan_;
  std::int64_t planned_;
  std::size_t block_ = 0;
  std::size_t sub_ = 0;
  std::vector<std::int64_t> counts_;
};

// Dream / MDLM: t runs over linspace(1, eps, steps + 1) on the whole span; a step from t
// to s commits masked * (1 - s/t) positions (counted) or reveals each masked position with
// probability 1 - s/t; the last step commits everything left.
class TimestepSchedule final : public Schedule {
 public:
  TimestepSchedule(const GenerateOptions& o, bool counted)
      : counted_(counted), n_(o.max_new_tokens), steps_(o.steps), grid_(timestep_grid(o.eps, o.steps)) {}

  std::optional<Step> next(const Span& span, std::int64_t& skipped) override {
    while (i_ < steps_) {
      const float t = grid_[i_], s = grid_[i_ + 1];
      const bool last = i_ == steps_ - 1;
      ++i_;
      if (!counted_) return Step{0, n_, 0, last ? 1.0f : 1.0f - s / t, 0};
      const std::int64_t masked = span.count_masked(0, n_);
      const std::int64_t k =
          last ? masked : static_cast<std::int64_t>(static_cast<float>(masked) * (1.0f - s / t));
      if (k > 0) return Step{0, n_, k, 0.0f, 0};
      ++skipped;
    }
    return std::nullopt;
  }

  std::int64_t planned_steps() const override { return steps_; }

 private:
  bool counted_;
  std::int64_t n_, steps_;
  std::vector<float> grid_;
  std::int64_t i_ = 0;
};

}  // namespace

std::unique_ptr<Schedule> make_schedule(const GenerateOptions& o, bool counted) {
  if (o.schedule == dlm::Schedule::kTimestep) return std::make_unique<TimestepSchedule>(o, counted);
  return std::make_unique<BlockSchedule>(o, counted);
}

}  // namespace dlm::sampling
