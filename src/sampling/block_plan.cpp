#include "dlm/sampling/block_plan.h"

#include <fmt/format.h>

#include "dlm/error.h"

namespace dlm {

std::vector<BlockPlan> plan_blocks(std::int64_t gen_length, std::int64_t block_length,
                                   std::int64_t steps) {
  if (gen_length <= 0) {
    throw UsageError(fmt::format("--max-new-tokens {} must be positive; try 128", gen_length));
  }
  if (block_length <= 0) {
    throw UsageError(fmt::format("--block-length {} must be positive; try 32", block_length));
  }
  if (steps <= 0) {
    throw UsageError(fmt::format("--steps {} must be positive; try {}", steps, gen_length));
  }
  if (steps > gen_length) {
    throw UsageError(fmt::format(
        "--steps {} is larger than the {} tokens to generate; use at most --steps {}", steps,
        gen_length, gen_length));
  }
  const std::int64_t block = std::min(block_length, gen_length);
  const std::int64_t blocks = (gen_length + block - 1) / block;
  if (steps < blocks) {
    throw UsageError(fmt::format(
        "--steps {} is fewer than the {} blocks of {} tokens; use --steps {} or more, or a "
        "larger --block-length",
        steps, blocks, block, blocks));
  }
  std::vector<BlockPlan> plan;
  plan.reserve(static_cast<std::size_t>(blocks));
  for (std::int64_t b = 0; b < blocks; ++b) {
    BlockPlan p;
    p.start = b * block;
    p.length = std::min(block, gen_length - p.start);
    p.steps = steps / blocks + (b < steps % blocks ? 1 : 0);
    plan.push_back(p);
  }
  return plan;
}

std::vector<std::int64_t> transfer_counts(std::int64_t masked, std::int64_t steps) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(std::max<std::int64_t>(steps, 0)));
  for (std::int64_t i = 0; i < steps; ++i) {
    counts[static_cast<std::size_t>(i)] = masked / steps + (i < masked % steps ? 1 : 0);
  }
  return counts;
}

}  // namespace dlm
