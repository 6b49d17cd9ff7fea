#include "cli/sampling_flags.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "dlm/error.h"
#include "dlm/model/model_paths.h"

namespace dlm::cli {

void add_sampling_flags(CLI::App& cmd, SamplingFlags& f) {
  cmd.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // last one wins
  cmd.add_option("--config", f.config, "TOML preset (configs/*.toml); options given on the command line override it");
  cmd.add_option("-m,--model", f.model, "Checkpoint (.pt); default: the shipped models/dlm-kjv-tiny.pt");
  f.given.bind_all(cmd, f.options);
  cmd.add_option("-t,--threads", f.runtime.threads, "CPU cores to use (0: the idle ones)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  add_model_runtime_flags(cmd, f.runtime);
}

namespace {
// A CLI11 transform that normalises a value with `parse` (which throws UsageError) and
// reports a bad one as "'VALUE' is not <what>; use <choices>".
CLI::Validator choice(std::string (*parse)(const std::string&), const char* what,
                      const char* choices, const char* type) {
  return CLI::Validator(
      [=](std::string& value) {
        try {
          value = parse(value);
          return std::string();
        } catch (const UsageError&) {
          return fmt::format("'{}' is not {}; use {}", value, what, choices);
        }
      },
      type);
}
}  // namespace

void add_model_runtime_flags(CLI::App& cmd, RuntimeOptions& runtime) {
  cmd.add_option("--device", runtime.device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd.add_option("--dtype", runtime.dtype,
                 "Parameters' dtype while running: auto (the checkpoint's), float32, bfloat16 "
                 "(AVX-512 BF16 CPUs, CUDA) or float16 (CUDA)")
      ->capture_default_str()
      ->transform(choice(parse_dtype, "a dtype", "auto, float32, bfloat16 or float16", "DTYPE"));
  cmd.add_option("--cuda-graphs", runtime.cuda_graphs,
                 "CUDA graphs for the window passes: auto (on with --device cuda and a "
                 "checkpoint with the fast passes), on, off")
      ->capture_default_str()
      ->transform(choice(parse_cuda_graphs, "a choice", "auto, on or off", "MODE"));
  cmd.add_flag("--trust-model", runtime.trust_model,
               "Load a checkpoint whose code can touch files (refused otherwise)");
}

void notice_uncached(const GenerateOptions& o, const Checkpoint& checkpoint) {
  if (o.cache == CacheMode::kAuto && o.schedule == Schedule::kBlock && !checkpoint.supports_cache()) {
    spdlog::info("{} has no cache methods (forward_kv, forward_window): running uncached; "
                 "re-export it with scripts/export/export_model.py --from-checkpoint to enable the cache",
                 checkpoint.path());
  }
}

bool steps_given(const SamplingFlags& f) { return !f.given.texts(*find_option("steps")).empty(); }

std::string model_path(const SamplingFlags& f) {
  return f.model.empty() ? default_model_path() : f.model;
}

void check_before_load(const GenerateOptions& options, const std::string& model) {
  if (const auto config = read_model_config(model)) check_room(options, *config);
  check_options(options);
}

void resolve_sampling_flags(CLI::App& cmd, SamplingFlags& f) {
  if (!f.config.empty()) apply_config_file(cmd, f.config);
  f.given.apply(f.options);
  // Without --steps (on the command line or in the preset), steps follow -n: one token per
  // step, as LLaDA's and Dream's own examples run.
  if (!steps_given(f)) f.options.steps = f.options.max_new_tokens;
  if (f.runtime.threads < 0) {
    throw UsageError(fmt::format("--threads {} must be >= 0 (0: the idle cores)", f.runtime.threads));
  }
}

}  // namespace dlm::cli
