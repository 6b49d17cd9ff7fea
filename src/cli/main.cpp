// dlm: command-line sampler for masked diffusion language models. Parses, sets up
// logging, dispatches to a subcommand, and maps errors to one line and an exit code:
// 0 success, 2 bad input or options, 1 any other failure.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli/argument_check.h"
#include "cli/commands.h"
#include "dlm/model/checkpoint.h"
#include "dlm/error.h"
#include "dlm/one_line.h"

namespace dlm::cli {

void add_log_options(CLI::App& cmd, LogOptions& log) {
  cmd.add_flag("-v,--verbose", log.verbose, "Log details to stderr");
  cmd.add_flag("-q,--quiet", log.quiet, "Log only errors");
}

void apply_log_options(const LogOptions& log) {
  spdlog::set_level(log.quiet     ? spdlog::level::err
                    : log.verbose ? spdlog::level::debug
                                  : spdlog::level::info);
}

}  // namespace dlm::cli

int main(int argc, char** argv) {
  auto logger = spdlog::stderr_color_st("dlm");
  logger->set_pattern("dlm: %^%l%$: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::info);

  CLI::App app{"dlm: sampler for masked diffusion language models (LLaDA, Dream, MDLM)", "dlm"};
  app.set_version_flag("--version", dlm::build_info());
  app.require_subcommand(1);
  std::vector<dlm::cli::Runner> runners{dlm::cli::add_generate(app), dlm::cli::add_info(app),
                                       dlm::cli::add_sweep(app), dlm::cli::add_batch(app),
                                       dlm::cli::add_options(app), dlm::cli::add_chat(app),
                                       dlm::cli::add_tokenize(app)};
  const CLI::App* subcommand = nullptr;  // for the --help that usage errors point at
  try {
    subcommand = dlm::cli::check_arguments(app, std::vector<std::string>(argv + 1, argv + argc));
    app.parse(argc, argv);
  } catch (const dlm::UsageError& e) {
    std::cerr << "dlm: error: " << dlm::one_line(e.what()) << std::endl;
    return 2;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "dlm: error: " << e.what() << "; see " << dlm::cli::help_command(subcommand)
              << std::endl;
    return 2;
  }
  try {
    // Subcommands are listed in registration order, the same order as `runners`.
    const auto all = app.get_subcommands({});
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (all[i]->parsed()) return runners[i]();
    }
    return 2;
  } catch (const dlm::UsageError& e) {
    std::fflush(stdout);
    std::cerr << "dlm: error: " << dlm::one_line(e.what()) << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::string what = e.what();
    std::cerr << "dlm: error: " << what.substr(0, what.find('\n')) << std::endl;
    return 1;
  }
}
