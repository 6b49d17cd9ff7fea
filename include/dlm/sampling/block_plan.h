#pragma once
// The block (semi-autoregressive) schedule and its length contract: how the
// generated span splits into blocks, how steps split across blocks, and how many
// tokens each step commits.
#include <cstdint>
#include <vector>

namespace dlm {

// One block of the generated span: [start, start + length), denoised in `steps` steps.
struct BlockPlan {
  std::int64_t start = 0;
  std::int64_t length = 0;
  std::int64_t steps = 0;
};

// Splits `gen_length` tokens into blocks of `block_length` (the last one shorter
// when it does not divide) and `steps` over the blocks (the remainder to the first
// blocks). A block length above gen_length means one block. Throws UsageError for
// non-positive lengths, steps > gen_length, or fewer steps than blocks.
std::vector<BlockPlan> plan_blocks(std::int64_t gen_length, std::int64_t block_length,
                                   std::int64_t steps);

// Tokens committed at each of `steps` steps when `masked` positions remain:
// masked / steps each, one more on each of the first masked % steps steps (LLaDA).
std::vector<std::int64_t> transfer_counts(std::int64_t masked, std::int64_t steps);

}  // namespace dlm
