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
  std::string cache = "auto";
  std::string max_memory;
  double threshold = 0.0;
  double factor = 0.0;
};

// "512M", "2G", "1048576": bytes, with an optional K, M or G suffix (powers of 1024, an
// optional trailing B or iB). Throws UsageError naming `option`.
std::int64_t parse_byte_size(const std::string& text, const std::string& option);

// Registers -m, --config, the sampling options, -t and --device on `cmd`.
void add_sampling_flags(CLI::App& cmd, SamplingFlags& flags);

// The one-line notice when `--cache auto` falls back to no cache because the
// checkpoint lacks the cache methods.
void notice_uncached(const GenerateOptions& options, const Checkpoint& checkpoint);

// After parsing: applies --config (command line wins), parses the named strategies,
// and checks -t. Throws UsageError.
void resolve_sampling_flags(CLI::App& cmd, SamplingFlags& flags);

}  // namespace dlm::cli
