// check_options: validate()'s checks that need no model, so that a usage error comes out
// before a checkpoint loads (the other checks need the checkpoint or the prompt).
#include <fmt/format.h>

#include "dlm/error.h"
#include "dlm/sampling/options.h"
#include "dlm/sampling/block_plan.h"
#include "sampling/option_parsers.h"

namespace dlm {
void check_options(const GenerateOptions& o) {
  using detail::require;
  const bool parallel = o.threshold || o.factor || o.eb_gamma;
  // Cheap bounds first: the block plan and the schedule are sized by these numbers.
  require(o.max_new_tokens <= kMaxTokens,
          fmt::format("--max-new-tokens {} is more than any model takes (at most {})",
                      o.max_new_tokens, kMaxTokens));
  require(o.steps <= kMaxTokens,
          fmt::format("--steps {} is more than any run can use (at most {})", o.steps, kMaxTokens));
  // The lengths contract, as validate() states it.
  if (o.schedule == Schedule::kBlock) {
    // Threshold and factor rules decide the step count themselves: --steps is ignored.
    plan_blocks(o.max_new_tokens, o.block_length, parallel ? o.max_new_tokens : o.steps);
  } else {
    require(o.max_new_tokens > 0, fmt::format("--max-new-tokens {} must be positive; try 128",
                                              o.max_new_tokens));
    require(o.steps > 0, fmt::format("--steps {} must be positive; try {}", o.steps,
                                     o.max_new_tokens));
    require(o.steps <= o.max_new_tokens || !is_scored(o.algorithm),
            fmt::format("--steps {} is larger than the {} tokens to generate; use at most "
                        "--steps {}", o.steps, o.max_new_tokens, o.max_new_tokens));
    require(o.eps > 0 && o.eps < 1, fmt::format("--eps {} is outside (0, 1); try 0.001", o.eps));
  }
  for (const auto& spec : option_registry()) {
    if (spec.check) spec.check(o);
  }
  // Combinations.
  require(!(o.threshold && o.factor), "--threshold and --factor are two parallel rules; pick one");
  require(!(o.eb_gamma && (o.threshold || o.factor)),
          "--eb-gamma is a parallel rule like --threshold and --factor; pick one");
  if (!is_scored(o.algorithm)) {
    const std::string name = to_string(o.algorithm);
    require(!parallel, fmt::format("--algorithm {} reveals positions independently; it cannot "
                                   "combine with --threshold, --factor or --eb-gamma", name));
    require(o.alg_temp == 0, fmt::format("--algorithm {} does not rank positions; drop "
                                         "--alg-temp", name));
    require(o.schedule == Schedule::kTimestep,
            fmt::format("--algorithm {} needs --schedule timestep", name));
  }
  require(!parallel || o.schedule == Schedule::kBlock,
          "--threshold and --factor work on blocks (so does --eb-gamma); use --schedule block");
  require(!parallel || o.alg_temp == 0,
          "--alg-temp draws a fixed number of positions; it cannot combine with --threshold, "
          "--factor or --eb-gamma");
  require(o.suffix_window == 0 || o.schedule == Schedule::kBlock,
          fmt::format("--suffix-window {} bounds the suffix past the current block; it needs "
                      "--schedule block", o.suffix_window));
  require(!o.edit_threshold || o.schedule == Schedule::kBlock,
          fmt::format("--edit-threshold {} edits tokens of the current block; it needs "
                      "--schedule block", o.edit_threshold.value_or(0)));
  if (is_cached(o.cache)) {
    require(o.schedule == Schedule::kBlock,
            fmt::format("--cache {} needs --schedule block (the cache is refreshed at block "
                        "boundaries); use --cache none or auto with --schedule timestep",
                        to_string(o.cache)));
  }
}

}  // namespace dlm
