#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/input_file.h"
#include "dlm/error.h"
#include "dlm/one_line.h"

namespace dlm::cli {

void apply_config_file(CLI::App& cmd, const std::string& path) {
  require_readable_file(path, "config file", "--config");  // CLI11 reads a directory as empty
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_file(path);
  } catch (const CLI::FileError&) {
    throw UsageError(fmt::format("cannot read config file '{}'; check the path given to --config "
                                 "(presets are in configs/)", path));
  } catch (const CLI::ParseError& e) {
    throw UsageError(one_line(fmt::format("config file '{}' is not valid TOML: {}", path, e.what())));
  }
  for (const auto& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // CLI11's section markers
    const bool ours = item.parents.empty() ||
                      (item.parents.size() == 1 && item.parents[0] == cmd.get_name());
    CLI::Option* option = ours ? cmd.get_option_no_throw("--" + item.name) : nullptr;
    if (!option || item.name == "config") {
      throw UsageError(one_line(fmt::format("config file '{}': unknown option '{}'; keys are the "
                                            "long option names of dlm {} (see --help)", path,
                                            item.fullname(), cmd.get_name())));
    }
    if (option->count() > 0) continue;  // the command line wins
    try {
      option->add_result(item.inputs);
      option->run_callback();
    } catch (const CLI::ParseError& e) {
      throw UsageError(one_line(fmt::format("config file '{}': bad value for '{}': {}", path,
                                            item.name, e.what())));
    }
  }
}

}  // namespace dlm::cli
