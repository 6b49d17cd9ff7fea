#include "dlm/eval/sweep.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <stdexcept>

#include "dlm/error.h"

namespace dlm {
namespace {

// The comma-separated elements of an axis; an empty list or element is an error.
std::vector<std::string> split_axis(const std::string& option, const std::string& text) {
  const std::string example = fmt::format("e.g. {} {}", option,
                                          option == "--steps" ? "8,16,32" : "none,0.9");
  if (text.find_first_not_of(" \t") == std::string::npos) {
    throw UsageError(fmt::format("{} is empty; give a comma-separated list of values ({})",
                                 option, example));
  }
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                     : comma - start);
    const auto a = item.find_first_not_of(" \t"), b = item.find_last_not_of(" \t");
    item = a == std::string::npos ? std::string() : item.substr(a, b - a + 1);
    if (item.empty()) {
      throw UsageError(fmt::format("{} '{}' has an empty value; give a comma-separated list "
                                   "without empty entries ({})", option, text, example));
    }
    out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string optional_name(const std::optional<double>& v) {
  return v ? fmt::format("{}", *v) : std::string("none");
}

// The cell's options with the fields its rule ignores blanked: equal keys, same run.
std::string effective_key(const SweepCell& cell) {
  const GenerateOptions& o = cell.options;
  const bool parallel = o.threshold || o.factor || o.eb_gamma;
  const bool timestep = o.schedule == Schedule::kTimestep;
  return fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", parallel ? -1 : o.steps,
                     timestep ? -1 : o.block_length, to_string(o.algorithm),
                     optional_name(o.threshold), optional_name(o.factor), o.alg_temp,
                     optional_name(o.eb_gamma), o.suffix_window, optional_name(o.edit_threshold),
                     cell.cache == "elastic" ? fmt::format("{}:{}", cell.cache, o.elastic_gamma)
                                             : cell.cache);
}

std::string why_same(const SweepCell& cell) {
  const GenerateOptions& o = cell.options;
  if (o.threshold) return "--threshold ignores --steps";
  if (o.factor) return "--factor ignores --steps";
  if (o.eb_gamma) return "--eb-gamma ignores --steps";
  if (cell.cache != "elastic" && o.schedule != Schedule::kTimestep)
    return "--elastic-gamma is read by --cache elastic only";
  return "--schedule timestep ignores --block-length";
}

}  // namespace

std::vector<std::int64_t> parse_int_axis(const std::string& option, const std::string& text) {
  std::vector<std::int64_t> out;
  for (const auto& item : split_axis(option, text)) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (errno != 0 || end == item.c_str() || *end != '\0') {
      throw UsageError(fmt::format("{} '{}': '{}' is not a whole number", option, text, item));
    }
    out.push_back(v);
  }
  return out;
}

std::vector<std::optional<double>> parse_optional_axis(const std::string& option,
                                                       const std::string& text) {
  std::vector<std::optional<double>> out;
  for (const auto& item : split_axis(option, text)) {
    if (item == "none") {
      out.emplace_back(std::nullopt);
      continue;
    }
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (end == item.c_str() || *end != '\0' || !std::isfinite(v)) {
      throw UsageError(fmt::format("{} '{}': '{}' is neither a number nor 'none'", option, text,
                                   item));
    }
    out.emplace_back(v);
  }
  return out;
}

std::vector<Algorithm> parse_algorithm_axis(const std::string& text) {
  std::vector<Algorithm> out;
  for (const auto& item : split_axis("--algorithm", text)) out.push_back(parse_algorithm(item));
  return out;
}

std::vector<std::string> parse_cache_axis(const std::string& text) {
  std::vector<std::string> modes;  // the registry's names, in any case, as `dlm generate`
  for (const auto& item : split_axis("--cache", text)) modes.push_back(to_string(parse_cache_mode(item)));
  return modes;
}

void set_axis(SweepGrid& grid, const std::string& name, const std::string& text) {
  const std::string option = "--" + name;
  if (name == "steps") {
    grid.steps = parse_int_axis(option, text);
  } else if (name == "block-length") {
    grid.block_length = parse_int_axis(option, text);
  } else if (name == "algorithm") {
    grid.algorithm = parse_algorithm_axis(text);
  } else if (name == "threshold") {
    grid.threshold = parse_optional_axis(option, text);
  } else if (name == "factor") {
    grid.factor = parse_optional_axis(option, text);
  } else if (name == "alg-temp") {
    grid.alg_temp = parse_optional_axis(option, text);
  } else if (name == "eb-gamma") {
    grid.eb_gamma = parse_optional_axis(option, text);
  } else if (name == "edit-threshold") {
    grid.edit_threshold = parse_optional_axis(option, text);
  } else if (name == "elastic-gamma") {
    std::vector<double> values;
    for (const auto& v : parse_optional_axis(option, text)) {
      if (!v) throw UsageError(fmt::format("{} '{}': 'none' is not a similarity", option, text));
      values.push_back(*v);
    }
    grid.elastic_gamma = std::move(values);
  } else if (name == "suffix-window") {
    grid.suffix_window = parse_int_axis(option, text);
  } else if (name == "cache") {
    grid.cache = parse_cache_axis(text);
  } else {
    throw std::logic_error("--" + name + " is not a sweep axis");
  }
}

std::string axis_text(const SweepGrid& grid, const std::string& name) {
  const auto optional_list = [](const std::vector<std::optional<double>>& values) {
    std::vector<std::string> names;
    for (const auto& v : values) names.push_back(optional_name(v));
    return fmt::format("{}", fmt::join(names, ","));
  };
  if (name == "steps") return fmt::format("{}", fmt::join(grid.steps, ","));
  if (name == "block-length") return fmt::format("{}", fmt::join(grid.block_length, ","));
  if (name == "algorithm") {
    std::vector<std::string> names;
    for (const auto a : grid.algorithm) names.push_back(to_string(a));
    return fmt::format("{}", fmt::join(names, ","));
  }
  if (name == "threshold") return optional_list(grid.threshold);
  if (name == "factor") return optional_list(grid.factor);
  if (name == "alg-temp") return optional_list(grid.alg_temp);
  if (name == "eb-gamma") return optional_list(grid.eb_gamma);
  if (name == "edit-threshold") return optional_list(grid.edit_threshold);
  if (name == "elastic-gamma") return fmt::format("{}", fmt::join(grid.elastic_gamma, ","));
  if (name == "suffix-window") return fmt::format("{}", fmt::join(grid.suffix_window, ","));
  if (name == "cache") return fmt::format("{}", fmt::join(grid.cache, ","));
  throw std::logic_error("--" + name + " is not a sweep axis");
}

void check_grid(const SweepGrid& grid, const GenerateOptions& base) {
  std::vector<std::string> problems;
  for (const SweepCell& cell : expand_grid(grid, base)) {
    try {
      check_options(cell.options);
      return;
    } catch (const UsageError& e) {
      problems.push_back(e.what());
    }
  }
  if (problems.empty()) return;
  const bool same = std::all_of(problems.begin(), problems.end(),
                                [&](const std::string& p) { return p == problems.front(); });
  throw UsageError(same ? problems.front()
                        : fmt::format("no cell of the grid can run; the first: {}", problems.front()));
}

std::string cell_id(const GenerateOptions& o, const std::string& cache) {
  // The newer axes are named only when set, so the ids of earlier sweeps stay valid.
  std::string extra;
  if (o.eb_gamma) extra += fmt::format("eb_gamma={} ", *o.eb_gamma);
  if (o.suffix_window > 0) extra += fmt::format("suffix_window={} ", o.suffix_window);
  if (o.edit_threshold) extra += fmt::format("edit_threshold={} ", *o.edit_threshold);
  if (cache == "elastic") extra += fmt::format("elastic_gamma={} ", o.elastic_gamma);
  return fmt::format("steps={} block_length={} algorithm={} threshold={} factor={} alg_temp={} "
                     "{}cache={}", o.steps, o.block_length, to_string(o.algorithm),
                     optional_name(o.threshold), optional_name(o.factor),
                     o.alg_temp > 0 ? fmt::format("{}", o.alg_temp) : std::string("none"), extra,
                     cache);
}

std::vector<SweepCell> expand_grid(const SweepGrid& grid, const GenerateOptions& base) {
  std::vector<SweepCell> cells;
  for (const auto& cache : grid.cache)
    for (const auto elastic_gamma : grid.elastic_gamma)
    for (const auto algorithm : grid.algorithm)
      for (const auto suffix_window : grid.suffix_window)
      for (const auto& threshold : grid.threshold)
        for (const auto& factor : grid.factor)
          for (const auto& eb_gamma : grid.eb_gamma)
          for (const auto& edit_threshold : grid.edit_threshold)
          for (const auto& alg_temp : grid.alg_temp)
            for (const auto block_length : grid.block_length)
              for (const auto steps : grid.steps) {
                SweepCell cell;
                cell.options = base;
                cell.options.suffix_window = suffix_window;
                cell.options.elastic_gamma = elastic_gamma;
                cell.options.eb_gamma = eb_gamma;
                cell.options.edit_threshold = edit_threshold;
                cell.options.steps = steps;
                cell.options.block_length = block_length;
                cell.options.algorithm = algorithm;
                cell.options.threshold = threshold;
                cell.options.factor = factor;
                cell.options.alg_temp = alg_temp.value_or(0.0);
                cell.options.cache = parse_cache_mode(cache);
                cell.cache = cache;
                cell.id = cell_id(cell.options, cache);
                cells.push_back(std::move(cell));
              }
  return cells;
}

void check_cells(std::vector<SweepCell>& cells, const Checkpoint& checkpoint,
                 std::int64_t longest_prompt_tokens) {
  std::map<std::string, std::string> first_with_key;  // effective key -> cell id
  std::map<std::string, bool> seen_id;
  for (SweepCell& cell : cells) {
    if (seen_id[cell.id]) {
      cell.skip_reason = "listed twice in the grid";
      continue;
    }
    seen_id[cell.id] = true;
    if (cell.cache == "auto") {
      // What `dlm generate` runs by default: the cell is named by the mode it runs, so it
      // resumes (and repeats) as that mode's cell.
      cell.options.cache = resolve_cache(cell.options, checkpoint.supports_cache());
      cell.cache = to_string(cell.options.cache);
      cell.id = cell_id(cell.options, cell.cache);
      if (seen_id[cell.id]) {
        cell.skip_reason = "listed twice in the grid (--cache auto is " + cell.cache + " here)";
        continue;
      }
      seen_id[cell.id] = true;
    }
    try {
      validate(cell.options, checkpoint, longest_prompt_tokens);
    } catch (const UsageError& e) {
      cell.skip_reason = e.what();
      continue;
    }
    const auto [it, fresh] = first_with_key.emplace(effective_key(cell), cell.id);
    if (!fresh) {
      cell.skip_reason = fmt::format("the same run as '{}' ({})", it->second, why_same(cell));
    }
  }
}

}  // namespace dlm
