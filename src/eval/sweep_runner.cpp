#include "dlm/eval/sweep_runner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <thread>

#include "dlm/error.h"
#include "dlm/eval/judge.h"
#include "dlm/eval/sha256.h"
#include "dlm/eval/sweep_cell.h"
#include "dlm/eval/sweep_prompts.h"
#include "eval/sweep_report.h"

namespace dlm {
namespace {

using Clock = std::chrono::steady_clock;

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return {};
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buffer;
}

Json axes_json(const SweepGrid& g) {
  const auto optional_list = [](const std::vector<std::optional<double>>& values) {
    Json out = Json::array();
    for (const auto& v : values) out.push_back(v ? Json(*v) : Json("none"));
    return out;
  };
  Json algorithms = Json::array();
  for (const auto a : g.algorithm) algorithms.push_back(to_string(a));
  return Json{{"steps", g.steps},          {"block_length", g.block_length},
              {"algorithm", algorithms},   {"threshold", optional_list(g.threshold)},
              {"factor", optional_list(g.factor)}, {"alg_temp", optional_list(g.alg_temp)},
              {"eb_gamma", optional_list(g.eb_gamma)}, {"suffix_window", g.suffix_window},
              {"edit_threshold", optional_list(g.edit_threshold)},
              {"elastic_gamma", g.elastic_gamma},
              {"cache", g.cache}};
}

// The single-valued settings: a change in any of them makes earlier cells incomparable.
Json shared_settings(const SweepSettings& s) {
  const GenerateOptions& o = s.base;
  Json settings{{"max_new_tokens", o.max_new_tokens}, {"temperature", o.temperature},
              {"seed", o.seed},                     {"style", to_string(o.style)},
              {"schedule", to_string(o.schedule)},  {"eps", o.eps},
              {"top_k", o.top_k},                   {"top_p", o.top_p},
              {"cfg_scale", o.cfg_scale},           {"eos", to_string(o.eos)},
              {"stop", o.stop},                     {"repeats", s.repeats},
              {"batch_size", s.batch_size},
              {"limit", s.limit},                   {"threads", s.runtime.threads},
              {"device", s.runtime.device}};
  // Options `dlm sweep` took later join the key only when set, so that the key (and so
  // the resume point) of a sweep that leaves them alone stays what it was.
  const GenerateOptions defaults;
  if (o.pad_multiple != defaults.pad_multiple) settings["pad_multiple"] = o.pad_multiple;
  if (o.cache_refresh != defaults.cache_refresh) settings["cache_refresh"] = o.cache_refresh;
  if (o.max_memory != defaults.max_memory) settings["max_memory"] = o.max_memory;
  if (s.runtime.dtype != RuntimeOptions{}.dtype) settings["dtype"] = s.runtime.dtype;
  if (o.min_p != defaults.min_p) settings["min_p"] = o.min_p;
  if (o.repeat_penalty != defaults.repeat_penalty) settings["repeat_penalty"] = o.repeat_penalty;
  if (o.min_new_tokens != defaults.min_new_tokens) settings["min_new_tokens"] = o.min_new_tokens;
  if (o.max_post_steps != defaults.max_post_steps) settings["max_post_steps"] = o.max_post_steps;
  return settings;
}

void check_judge_covers(const Judge& judge, const std::vector<SweepPrompt>& prompts) {
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    judge.check_text(prompts[i].prompt, fmt::format("prompt {} (id {})", i + 1, prompts[i].id));
    if (prompts[i].reference) {
      judge.check_text(*prompts[i].reference,
                       fmt::format("the reference of prompt {} (id {})", i + 1, prompts[i].id));
    }
  }
}

std::string describe(const CellResult& r) {
  return fmt::format("{:.1f} tokens/s, {:.1f} forward calls/prompt, judge ppl {:.2f}, "
                     "distinct-2 {:.3f} ({:.0f} s)", r.speed.tokens_per_s, r.speed.nfe_per_prompt,
                     r.quality.judge.perplexity(), r.quality.distinct2.value_or(0.0), r.elapsed_s);
}

// The settings the run resolved to (defaults, preset and command line together), for -v:
// the files, every single-valued sampling option, and every axis, `auto` cache resolved.
void log_resolved(const SweepSettings& s, std::size_t prompt_count, const Checkpoint& model) {
  spdlog::debug("resolved: model {}, judge {}, prompts {} ({} used, --limit {}), out {}, "
                "repeats {}, batch size {}, threads {}, device {}, dtype {}, plot {}", s.model, s.judge,
                s.prompts, prompt_count, s.limit, s.out_dir, s.repeats, s.batch_size,
                s.runtime.threads, s.runtime.device, s.runtime.dtype, s.plot ? "yes" : "no");
  std::vector<std::string> single, axes;
  for (const auto& spec : option_registry()) {
    if (spec.axis) {
      std::string values = axis_text(s.grid, spec.name);
      if (spec.name == "cache" &&
          std::find(s.grid.cache.begin(), s.grid.cache.end(), "auto") != s.grid.cache.end()) {
        values += fmt::format(" (auto: {} here)",
                              to_string(resolve_cache(s.base, model.supports_cache())));
      }
      axes.push_back(fmt::format("--{} {}", spec.name, values));
    } else {
      single.push_back(fmt::format("--{} {}", spec.name, option_text(spec, s.base)));
    }
  }
  spdlog::debug("resolved single-valued options: {}", fmt::join(single, ", "));
  spdlog::debug("resolved grid: {}", fmt::join(axes, ", "));
}

}  // namespace

SweepSummary run_sweep(const SweepSettings& s) {
  const auto t_start = Clock::now();
  if (s.repeats < 1) {
    throw UsageError(fmt::format("--repeats {} must be at least 1", s.repeats));
  }
  if (s.batch_size < 1) {
    throw UsageError(fmt::format("--batch-size {} must be at least 1", s.batch_size));
  }
  check_grid(s.grid, s.base);  // usage errors come out before the models load
  const auto prompts = read_prompts(s.prompts, s.limit);
  SweepOutput output(s.out_dir);
  configure_runtime(s.runtime);

  auto judge_checkpoint = Checkpoint::load(s.judge, s.runtime.device);
  const Judge judge(*judge_checkpoint);
  check_judge_covers(judge, prompts);
  auto model = Checkpoint::load(s.model, s.runtime);
  if (model->config().causal) {
    throw UsageError(fmt::format("-m {} is a causal (autoregressive) model, not a masked "
                                 "denoiser; pass a diffusion checkpoint with -m", s.model));
  }
  spdlog::info("{} prompts from {}; model {}, judge {}", prompts.size(), s.prompts, s.model,
               s.judge);
  log_resolved(s, prompts.size(), *model);

  Json meta;
  meta["dlm"] = build_info();
  meta["created"] = utc_now();
  meta["git_commit"] = build_commit();  // the binary's, not the working tree's
  meta["machine"] = {{"nproc", std::thread::hardware_concurrency()}, {"cpu_model", cpu_model()},
                     {"device", s.runtime.device}};
  meta["model"] = {{"path", s.model}, {"sha256", sha256_file(s.model)}};
  meta["judge"] = {{"path", s.judge}, {"sha256", sha256_file(s.judge)}};
  meta["prompts"] = {{"path", s.prompts}, {"sha256", sha256_file(s.prompts)},
                     {"count", prompts.size()}};
  meta["settings"] = shared_settings(s);
  meta["grid"] = axes_json(s.grid);
  const Json key_source = {meta["model"]["sha256"], meta["judge"]["sha256"],
                           meta["prompts"]["sha256"], meta["settings"]};
  const std::string settings_key = sha256_hex(key_source.dump()).substr(0, 16);
  meta["settings_key"] = settings_key;
  output.load_finished(settings_key);

  std::int64_t longest = 0;
  for (const auto& p : prompts) {
    longest = std::max<std::int64_t>(longest, encode_prompt(*model, p.prompt).size());
  }
  auto cells = expand_grid(s.grid, s.base);
  check_cells(cells, *model, longest);

  const auto references = score_references(*model, judge, prompts);
  if (references) {
    spdlog::info("reference continuations: judge ppl {:.2f} over {} tokens",
                 references->judge.perplexity(), references->judge.tokens);
  }

  SweepSummary summary;
  const auto write = [&] {
    Json m = meta;
    m["run"] = {{"cells_run", summary.cells_run}, {"cells_resumed", summary.cells_resumed},
                {"cells_skipped", summary.cells_skipped},
                {"elapsed_s", std::chrono::duration<double>(Clock::now() - t_start).count()}};
    return output.write_summary(cells, m, references);
  };
  bool warmed_up = false;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const SweepCell& cell = cells[i];
    const std::string where = fmt::format("[{}/{}] {}", i + 1, cells.size(), cell.id);
    if (cell.skipped()) {
      ++summary.cells_skipped;
      spdlog::info("{}: skipped: {}", where, cell.skip_reason);
      continue;
    }
    if (output.finished(cell.id)) {
      ++summary.cells_resumed;
      spdlog::info("{}: already in {}", where, output.path("cells.jsonl"));
      continue;
    }
    if (!warmed_up) {  // TorchScript's profiling runs would otherwise land in the first cell
      generate(*model, encode_prompt(*model, prompts.front().prompt), cell.options);
      warmed_up = true;
    }
    const CellResult result = run_cell(*model, judge, prompts, cell, s.repeats, s.batch_size);
    output.append(cell_record(cell, &result, settings_key),
                  sample_records(cell, result, prompts, settings_key));
    ++summary.cells_run;
    spdlog::info("{}: {}", where, describe(result));
    write();
  }
  summary.markdown = write();
  if (s.plot) {
    const std::string failure = output.plot(s.python);
    summary.plotted = failure.empty();
    if (!summary.plotted) spdlog::warn("sweep.png not drawn: {}", failure);
  }
  spdlog::info("{} cells run, {} resumed from {}, {} skipped; outputs in {}", summary.cells_run,
               summary.cells_resumed, output.path("cells.jsonl"), summary.cells_skipped, s.out_dir);
  return summary;
}

}  // namespace dlm
