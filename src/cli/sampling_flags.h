#pragma once
// The options shared by `dlm generate` and `dlm batch`: -m, --config, every sampling
// option of the registry (same names, same defaults: GenerateOptions{}), -t and --device.
#include <CLI/CLI.hpp>

#include <string>

#include "cli/option_binding.h"
#include "dlm/model/checkpoint.h"
#include "dlm/sampling/sampler.h"

namespace dlm::cli {

// What generate and batch parse: the sampling options and where to run them.
struct SamplingFlags {
  GenerateOptions options;
  RuntimeOptions runtime;
  std::string model;
  std::string config;
  GivenOptions given;  // the registry's options as given, applied to `options`
};

// Registers -m, --config, the registry's sampling options, -t, --device, --dtype and
// --trust-model on `cmd`.
void add_sampling_flags(CLI::App& cmd, SamplingFlags& flags);

// --device, --dtype and --trust-model (every command that loads a checkpoint); --dtype is
// checked by parse_dtype as it is parsed.
void add_model_runtime_flags(CLI::App& cmd, RuntimeOptions& runtime);

// The one-line notice when `--cache auto` falls back to no cache because the
// checkpoint lacks the cache methods.
void notice_uncached(const GenerateOptions& options, const Checkpoint& checkpoint);

// Whether --steps was given, on the command line or in the --config preset.
bool steps_given(const SamplingFlags& flags);

// -m, or the default model ($DLM_MODEL, the shipped one); throws UsageError.
std::string model_path(const SamplingFlags& flags);

// The checks that can run before the model loads, in validate()'s order: -n against the
// model's max_seq_len (read from the archive without loading it), then check_options.
void check_before_load(const GenerateOptions& options, const std::string& model);

// After parsing: applies --config (command line wins), parses the sampling options into
// flags.options, and checks -t. Throws UsageError.
void resolve_sampling_flags(CLI::App& cmd, SamplingFlags& flags);

}  // namespace dlm::cli
