#pragma once
// A look at the command line before CLI11 parses it, for the mistakes CLI11 reports poorly
// or not at all: an unknown subcommand or option gets the closest known name and the
// subcommand's own --help, llama.cpp flags that mean nothing here say so, and a cluster of
// short options that is not a valid one (`-ngl`: not `-n gl`) is an unknown option rather
// than a value.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace dlm::cli {

// Checks `args` (argv without the program name) against the subcommands of `app` and the
// options of the one named; returns that subcommand (nullptr when none is named). Throws
// UsageError with one line.
const CLI::App* check_arguments(const CLI::App& app, const std::vector<std::string>& args);

// Where a usage error points: "dlm generate --help", or "dlm --help" without a subcommand.
std::string help_command(const CLI::App* subcommand);

// The candidate closest to `name` by edit distance (case and leading dashes aside), when
// it is close enough to be a likely typo; "" otherwise.
std::string closest_name(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace dlm::cli
