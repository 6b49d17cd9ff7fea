#pragma once
// The grid of a sweep: each sweepable option of `dlm generate` takes a comma-separated
// list of values (`none` where the option can be off), the Cartesian product gives the
// cells, and a cell that cannot run (options that do not combine, a cache mode this dlm
// lacks, a repeat of another cell) is marked skipped with the reason.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dlm/model/checkpoint.h"
#include "dlm/sampling/sampler.h"
#include "dlm/sampling/names.h"

namespace dlm {

// One list of values per axis, every list non-empty; the defaults are a steps sweep.
struct SweepGrid {
  std::vector<std::int64_t> steps{8, 16, 32, 64};
  std::vector<std::int64_t> block_length{32};
  std::vector<Algorithm> algorithm{Algorithm::kConfidence};
  std::vector<std::optional<double>> threshold{std::nullopt};  // nullopt: off
  std::vector<std::optional<double>> factor{std::nullopt};
  std::vector<std::optional<double>> alg_temp{std::nullopt};
  std::vector<std::optional<double>> eb_gamma{std::nullopt};
  std::vector<std::optional<double>> edit_threshold{std::nullopt};  // token editing
  std::vector<std::int64_t> suffix_window{0};  // 0: off
  std::vector<double> elastic_gamma{0.9};      // read by --cache elastic cells only
  // auto: what `dlm generate` uses by default (dual when the checkpoint has the cache
  // methods and the schedule is block, else none), resolved per cell by check_cells.
  std::vector<std::string> cache{"auto"};
};

// Axis parsers: `text` is the option's value, `option` its name for messages. Each
// throws UsageError on an empty list or an empty, malformed or unknown element.
std::vector<std::int64_t> parse_int_axis(const std::string& option, const std::string& text);
// Numbers or `none` (the option off).
std::vector<std::optional<double>> parse_optional_axis(const std::string& option,
                                                       const std::string& text);
std::vector<Algorithm> parse_algorithm_axis(const std::string& text);
// Cache modes: auto, none, prefix, dual, elastic (any case).
std::vector<std::string> parse_cache_axis(const std::string& text);

// The axis of registry option `name` (OptionSpec::axis) from its comma-separated text,
// through the parsers above; std::logic_error for an option that is not an axis.
void set_axis(SweepGrid& grid, const std::string& name, const std::string& text);
// The values of that axis as `dlm sweep` takes them ("8,16,32,64"): its --help default.
std::string axis_text(const SweepGrid& grid, const std::string& name);

// One combination of axis values on top of the sweep's single-valued options.
struct SweepCell {
  std::string id;  // "steps=8 block_length=32 algorithm=confidence ... cache=none"
  GenerateOptions options;
  std::string cache = "none";
  std::string skip_reason;  // empty: the cell runs

  bool skipped() const { return !skip_reason.empty(); }
};

// The id of a cell with these options and cache mode (stable: resume matches on it).
std::string cell_id(const GenerateOptions& options, const std::string& cache);

// The Cartesian product, steps varying fastest (so a line of the plot is consecutive
// cells), then block_length, alg_temp, edit_threshold, eb_gamma, factor, threshold, suffix_window,
// algorithm, cache. `base` holds
// the single-valued options.
std::vector<SweepCell> expand_grid(const SweepGrid& grid, const GenerateOptions& base);

// Before any model loads: throws UsageError when no cell of the grid passes
// check_options (the message of the first cell's problem), since every cell would be
// skipped; cells only some of which fail are skipped later by check_cells.
void check_grid(const SweepGrid& grid, const GenerateOptions& base);

// Resolves --cache auto cells to the mode `dlm generate` would run with this checkpoint
// (their id and `cache` then name that mode), and marks cells that cannot run as skipped,
// with the reason: dlm::validate's message for
// `checkpoint` and the longest prompt, a cache mode this dlm lacks, or the same
// effective run as an earlier cell (--threshold/--factor ignore --steps, the timestep
// schedule ignores --block-length).
void check_cells(std::vector<SweepCell>& cells, const Checkpoint& checkpoint,
                 std::int64_t longest_prompt_tokens);

}  // namespace dlm
