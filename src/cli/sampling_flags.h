#pragma once
// The sampling options shared by `dlm generate` and `dlm batch`: same names, same
// defaults (GenerateOptions), one registration.
#include <CLI/CLI.hpp>

#include <string>

#include "dlm/checkpoint.h"
#include "dlm/sampler.h"

namespace dlm::cli {

// CLI spellings of the options that need parsing into GenerateOptions.
struct SamplingFlags {
  GenerateOptions options;
  RuntimeOptions runtime;
  std::string model;
  std::string config;
  std::string algorithm = "confidence";
  std::string style = "llada";
  std::string schedule = "block";
  std::string eos = "none";
  double threshold = 0.0;
  double factor = 0.0;
};

// Registers -m, --config, the sampling options, -t and --device on `cmd`.
void add_sampling_flags(CLI::App& cmd, SamplingFlags& flags);

// After parsing: applies --config (command line wins), parses the named strategies,
// and checks -t. Throws UsageError.
void resolve_sampling_flags(CLI::App& cmd, SamplingFlags& flags);

}  // namespace dlm::cli
