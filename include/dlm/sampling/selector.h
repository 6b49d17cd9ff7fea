#pragma once
// Selectors: which of a step's scored masked positions commit. The kinds that need only
// scores and a count run batched in the dlm::commit operator; Dream's alg_temp draw picks
// on the host from the scores; the independent reveal (Dream origin, MDLM ancestral)
// draws its positions before the model runs.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "dlm/sampling/schedule.h"

namespace dlm {
struct GenerateOptions;
}

namespace dlm::sampling {

// The first three kinds are dlm::commit's rules, with its numbers (ops::CommitRule).
enum class SelectorKind {
  kTopK = 0,       // the k best
  kThreshold = 1,  // the best and every other with score >= value
  kFactor = 2,     // Fast-dLLM's factor rule
  kSampled,    // k drawn without replacement from softmax(score / alg_temp)
  kReveal,     // each masked position revealed with probability p_transfer
  kEntropyBounded,  // EB-sampler: best first while sum - max of their entropies <= gamma
};

// How a row's step picks its positions.
class Selector {
 public:
  virtual ~Selector() = default;
  virtual SelectorKind kind() const = 0;
  // The threshold or factor of the dlm::commit rules (0 for the others).
  virtual double value() const { return 0.0; }
  // Whether the schedule's per-step count k is what commits (top-k, sampled).
  virtual bool counted() const { return false; }
  // Whether it picks on the host from the scored candidates (pick()), after the driver
  // copies their ids and scores back; kinds outside dlm::commit other than kReveal do.
  virtual bool picks_on_host() const { return false; }
  // Whether pick() also needs each candidate's entropy (the driver then scores the
  // targets a second time under the entropy rule).
  virtual bool needs_entropy() const { return false; }
  // Host-side kinds: indices into `scores` (of `positions`) to commit, ascending.
  // `entropies`: each candidate's entropy in nats when needs_entropy(), else empty.
  virtual std::vector<std::int64_t> pick(const std::vector<double>& scores,
                                         const std::vector<double>& entropies,
                                         const std::vector<std::uint64_t>& positions,
                                         std::int64_t k, std::uint64_t seed,
                                         std::uint64_t step) const;
  // kReveal: the masked positions of [step.a, step.b) drawn at `step_index`, ascending.
  virtual std::vector<std::int64_t> draw(const Step& step, const Span& span, std::uint64_t seed,
                                         std::uint64_t step_index) const;
  // kReveal: reuse the last model output while the canvas is unchanged (MDLM's cache).
  virtual bool reuses_output() const { return false; }
};

// Whether a selector kind runs in the dlm::commit operator.
bool runs_in_commit_op(SelectorKind kind);

std::unique_ptr<Selector> make_selector(const GenerateOptions& options);

}  // namespace dlm::sampling
