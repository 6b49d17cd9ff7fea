#pragma once
// Schedules: which region of the generated span each denoising step works on and how
// many positions it commits there (block / semi-autoregressive, timestep).
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace dlm {
struct GenerateOptions;
}

namespace dlm::sampling {

// The generated span of a row: token ids, the mask id where a position is still masked.
struct Span {
  const std::vector<std::int64_t>& ids;
  std::int64_t mask_id = 0;

  std::int64_t count_masked(std::int64_t a, std::int64_t b) const;
};

// One step of a row: the region [a, b) of the generated span, how many positions a
// counting selector commits there (k), the share of masked positions an independent
// reveal draws (p_transfer), and the block the step belongs to (a new block starts with a
// fresh key/value cache).
struct Step {
  std::int64_t a = 0, b = 0;
  std::int64_t k = 0;
  float p_transfer = 0.0f;
  std::int64_t block = 0;
};

// Yields a row's steps. Steps that would commit nothing (a ragged block's spare step, a
// timestep whose count rounds to 0) need no model call: next() skips them, adding each to
// `skipped` (they still count as steps: draw keys are indexed by step).
class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual std::optional<Step> next(const Span& span, std::int64_t& skipped) = 0;
  // Steps of the whole generation: exact for counting selectors, an upper bound for
  // threshold and factor (each step commits at least one position).
  virtual std::int64_t planned_steps() const = 0;
};

// The schedule of `options`. `counted`: the selector commits the schedule's k per step
// (top-k, sampled); otherwise it decides itself (threshold, factor: a block is stepped
// until it has no masked position) or reveals independently (timestep: every step runs).
std::unique_ptr<Schedule> make_schedule(const GenerateOptions& options, bool counted);

// The timestep grid linspace(1, eps, steps + 1) in float32, as torch (and Dream) build it.
std::vector<float> timestep_grid(double eps, std::int64_t steps);

}  // namespace dlm::sampling
