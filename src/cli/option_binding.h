#pragma once
// Binds the option registry (dlm/sampling/options.h) to a CLI11 subcommand: every entry
// becomes an option that keeps the text it was given (on the command line or in a
// --config preset), and the entry's own parser turns that text into GenerateOptions
// after parsing, so one parser and one message serve every front end.
#include <CLI/CLI.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "dlm/sampling/options.h"

namespace dlm::cli {

// The text given for each bound registry option.
class GivenOptions {
 public:
  // Registers `spec` on `cmd` under its names, with `help` and `default_text` for --help.
  CLI::Option* bind(CLI::App& cmd, const OptionSpec& spec, const std::string& help,
                    const std::string& default_text);
  // Registers every registry entry with its own help and its default in `defaults`.
  void bind_all(CLI::App& cmd, const GenerateOptions& defaults);
  // The texts `spec` was given; empty when it was not given (or not bound).
  std::vector<std::string> texts(const OptionSpec& spec) const;
  // Sets every given option on `options` through the registry's parsers (UsageError).
  void apply(GenerateOptions& options) const;

 private:
  std::map<std::string, std::string> values_;              // single-valued options
  std::map<std::string, std::vector<std::string>> lists_;  // repeatable ones (--stop)
  std::map<std::string, const CLI::Option*> options_;
};

}  // namespace dlm::cli
