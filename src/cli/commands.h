#pragma once
// Subcommands of the dlm executable: each registers its options on the CLI11 app
// and returns the function that runs it once parsing has succeeded.
#include <CLI/CLI.hpp>

#include <functional>

namespace dlm::cli {

using Runner = std::function<int()>;

// Options every subcommand shares: logging verbosity.
struct LogOptions {
  bool verbose = false;
  bool quiet = false;
};
void add_log_options(CLI::App& cmd, LogOptions& log);
void apply_log_options(const LogOptions& log);

// Applies a TOML preset (read with toml++): `long-option-name = value` lines, at the top
// or in a [subcommand] section; options already given on the command line keep their
// values. Syntax errors, unknown keys and bad values are UsageErrors naming FILE:LINE:COL.
void apply_config_file(CLI::App& cmd, const std::string& path);

Runner add_generate(CLI::App& app);
Runner add_info(CLI::App& app);
Runner add_batch(CLI::App& app);
Runner add_sweep(CLI::App& app);
Runner add_options(CLI::App& app);
Runner add_chat(CLI::App& app);
Runner add_tokenize(CLI::App& app);

}  // namespace dlm::cli
