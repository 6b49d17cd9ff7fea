// The block schedule's length contract (plan_blocks) and LLaDA's per-step commit
// counts (transfer_counts).
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "dlm/sampling/block_plan.h"
#include "test_support.h"

using dlm::BlockPlan;
using dlm::plan_blocks;
using dlm::transfer_counts;

namespace {

struct Expected {
  std::int64_t start, length, steps;
};

void require_plan(const std::vector<BlockPlan>& plan, const std::vector<Expected>& expected) {
  REQUIRE(plan.size() == expected.size());
  for (std::size_t b = 0; b < plan.size(); ++b) {
    INFO("block " << b);
    CHECK(plan[b].start == expected[b].start);
    CHECK(plan[b].length == expected[b].length);
    CHECK(plan[b].steps == expected[b].steps);
  }
}

void require_plan_error(std::int64_t gen_length, std::int64_t block_length, std::int64_t steps,
                        const std::string& needle) {
  INFO("plan_blocks(" << gen_length << ", " << block_length << ", " << steps << ")");
  dlm_test::require_usage_error([&] { plan_blocks(gen_length, block_length, steps); }, {needle});
}

std::int64_t sum(const std::vector<std::int64_t>& v) {
  return std::accumulate(v.begin(), v.end(), std::int64_t{0});
}

}  // namespace

TEST_CASE("plan_blocks splits a divisible length exactly as LLaDA does", "[schedule]") {
  // LLaDA's demo setting: 128 tokens, blocks of 32, 128 steps -> 4 blocks of 32 steps.
  require_plan(plan_blocks(128, 32, 128), {{0, 32, 32}, {32, 32, 32}, {64, 32, 32}, {96, 32, 32}});
  require_plan(plan_blocks(64, 16, 8), {{0, 16, 2}, {16, 16, 2}, {32, 16, 2}, {48, 16, 2}});
  require_plan(plan_blocks(32, 32, 32), {{0, 32, 32}});
}

TEST_CASE("plan_blocks makes the last block shorter when the length is ragged", "[schedule]") {
  require_plan(plan_blocks(20, 8, 10), {{0, 8, 4}, {8, 8, 3}, {16, 4, 3}});
  require_plan(plan_blocks(33, 16, 3), {{0, 16, 1}, {16, 16, 1}, {32, 1, 1}});
}

TEST_CASE("plan_blocks gives the remainder steps to the first blocks", "[schedule]") {
  require_plan(plan_blocks(64, 16, 7), {{0, 16, 2}, {16, 16, 2}, {32, 16, 2}, {48, 16, 1}});
  require_plan(plan_blocks(64, 16, 6), {{0, 16, 2}, {16, 16, 2}, {32, 16, 1}, {48, 16, 1}});
}

TEST_CASE("plan_blocks uses one block when block_length exceeds gen_length", "[schedule]") {
  require_plan(plan_blocks(16, 32, 8), {{0, 16, 8}});
  require_plan(plan_blocks(5, 1000, 5), {{0, 5, 5}});
}

TEST_CASE("plan_blocks covers the span contiguously and spends every step", "[schedule]") {
  for (std::int64_t gen = 1; gen <= 40; ++gen) {
    for (std::int64_t block = 1; block <= 45; block += 4) {
      const std::int64_t blocks = (gen + std::min(block, gen) - 1) / std::min(block, gen);
      for (std::int64_t steps = blocks; steps <= gen; steps += 3) {
        INFO("gen " << gen << " block " << block << " steps " << steps);
        const auto plan = plan_blocks(gen, block, steps);
        REQUIRE(static_cast<std::int64_t>(plan.size()) == blocks);
        std::int64_t next = 0, step_sum = 0;
        for (const BlockPlan& p : plan) {
          REQUIRE(p.start == next);
          REQUIRE(p.length >= 1);
          REQUIRE(p.length <= block);
          REQUIRE(p.steps >= 1);
          REQUIRE(p.steps - plan.back().steps <= 1);  // balanced, earlier blocks first
          next += p.length;
          step_sum += p.steps;
        }
        REQUIRE(next == gen);
        REQUIRE(step_sum == steps);
      }
    }
  }
}

TEST_CASE("plan_blocks rejects lengths it cannot schedule with a UsageError", "[schedule]") {
  require_plan_error(0, 8, 4, "--max-new-tokens 0");
  require_plan_error(-5, 8, 4, "--max-new-tokens -5");
  require_plan_error(16, 0, 4, "--block-length 0");
  require_plan_error(16, -8, 4, "--block-length -8");
  require_plan_error(16, 8, 0, "--steps 0");
  require_plan_error(16, 8, -1, "--steps -1");
  require_plan_error(16, 8, 17, "--steps 17");  // more steps than tokens
  require_plan_error(64, 8, 4, "--steps 4");    // 8 blocks need at least 8 steps
  CHECK_NOTHROW(plan_blocks(64, 8, 8));
  CHECK_NOTHROW(plan_blocks(16, 8, 16));
}

TEST_CASE("transfer_counts spreads masked tokens over steps, larger counts first", "[schedule]") {
  CHECK(transfer_counts(10, 4) == std::vector<std::int64_t>{3, 3, 2, 2});
  CHECK(transfer_counts(32, 32) == std::vector<std::int64_t>(32, 1));
  CHECK(transfer_counts(32, 8) == std::vector<std::int64_t>(8, 4));
  CHECK(transfer_counts(7, 1) == std::vector<std::int64_t>{7});
  // A ragged block can get more steps than tokens: the spare steps commit nothing.
  CHECK(transfer_counts(4, 6) == std::vector<std::int64_t>{1, 1, 1, 1, 0, 0});
}

TEST_CASE("transfer_counts always sums to the masked count", "[schedule]") {
  for (std::int64_t masked = 0; masked <= 64; ++masked) {
    for (std::int64_t steps = 1; steps <= 64; ++steps) {
      INFO("masked " << masked << " steps " << steps);
      const auto counts = transfer_counts(masked, steps);
      REQUIRE(static_cast<std::int64_t>(counts.size()) == steps);
      REQUIRE(sum(counts) == masked);
      REQUIRE(std::is_sorted(counts.rbegin(), counts.rend()));  // non-increasing
      REQUIRE(counts.front() - counts.back() <= 1);
    }
  }
}
