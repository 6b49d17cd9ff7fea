// TOML presets (--config FILE), read with toml++: a syntax error names the file, line and
// column; each key is a long option name of the subcommand, and its value goes through
// the same CLI11 option, validators and exclusions as the command line, and for sampling
// options through the registry's own parser and check.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <toml++/toml.h>

#include <algorithm>
#include <vector>

#include "cli/argument_check.h"
#include "cli/commands.h"
#include "cli/input_file.h"
#include "dlm/error.h"
#include "dlm/one_line.h"
#include "dlm/sampling/options.h"

namespace dlm::cli {
namespace {

// "configs/x.toml:3:9": where a key or value is, as compilers write it.
std::string where(const std::string& path, const toml::source_region& source) {
  return fmt::format("{}:{}:{}", path, source.begin.line, source.begin.column);
}

bool is_switch(const CLI::Option& option) { return option.get_items_expected_max() == 0; }

// `dlm sweep` binds its axes with the type name LIST: a comma-separated list.
bool is_axis(const CLI::Option& option) { return option.get_type_name() == "LIST"; }

bool is_repeatable(const CLI::Option& option) {
  return option.get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll;
}

// One scalar as the text the command line would carry; nullopt for a date or a time.
std::optional<std::string> scalar_text(const toml::node& node) {
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* d = node.as_floating_point()) return fmt::format("{}", d->get());
  if (const auto* b = node.as_boolean()) return std::string(b->get() ? "true" : "false");
  return std::nullopt;
}

// A preset being applied to one subcommand.
class PresetReader {
 public:
  PresetReader(CLI::App& cmd, std::string path) : cmd_(cmd), path_(std::move(path)) {}

  void apply(const toml::table& table, bool in_section) {
    for (const auto& [key, node] : table) {
      const std::string name(key.str());
      if (const auto* section = node.as_table(); section && !in_section && name == cmd_.get_name()) {
        apply(*section, true);  // [generate]: this subcommand's own section
        continue;
      }
      set(name, node, key.source());
    }
  }

  // CLI11 checks exclusions while it parses, before the preset is read: check them again
  // for every option the preset set.
  void check_exclusions() const {
    for (const CLI::Option* option : from_file_) {
      for (const CLI::Option* other : option->get_excludes()) {
        if (other->count() == 0) continue;
        throw UsageError(fmt::format("config file '{}': {} and {} exclude each other; remove "
                                     "one (from the file or the command line)",
                                     path_, option->get_name(), other->get_name()));
      }
    }
  }

 private:
  [[noreturn]] void fail(const toml::source_region& at, const std::string& message) const {
    throw UsageError(one_line(fmt::format("{}: {}", where(path_, at), message)));
  }

  CLI::Option* find(const std::string& name, const toml::source_region& at) const {
    CLI::Option* option = name == "config" ? nullptr : cmd_.get_option_no_throw("--" + name);
    if (option != nullptr) return option;
    std::vector<std::string> names;
    for (const CLI::Option* o : cmd_.get_options()) {
      for (const auto& l : o->get_lnames()) {
        if (l != "config" && l != "help") names.push_back(l);
      }
    }
    const std::string near = closest_name(name, names);
    fail(at, fmt::format("unknown key '{}'{}; keys are the long option names of dlm {} (see "
                         "{})", name, near.empty() ? "" : " (did you mean '" + near + "'?)",
                         cmd_.get_name(), help_command(&cmd_)));
  }

  // The value as command-line texts: one per occurrence of the option.
  std::vector<std::string> texts(const std::string& name, const CLI::Option& option,
                                 const toml::node& node) const {
    const auto* array = node.as_array();
    if (array == nullptr) {
      const auto text = scalar_text(node);
      if (!text) fail(node.source(), fmt::format("'{}' takes a number, a string or a boolean", name));
      return {*text};
    }
    if (!is_axis(option) && !is_repeatable(option)) {
      fail(node.source(), fmt::format("'{}' takes one value, not a list", name));
    }
    if (array->empty()) fail(node.source(), fmt::format("'{}' is an empty list", name));
    std::vector<std::string> items;
    for (const toml::node& element : *array) {
      const auto text = element.as_boolean() ? std::nullopt : scalar_text(element);
      if (!text) fail(element.source(), fmt::format("'{}' lists numbers or strings", name));
      items.push_back(*text);
    }
    if (is_axis(option)) return {fmt::format("{}", fmt::join(items, ","))};
    return items;
  }

  void set(const std::string& name, const toml::node& node, const toml::source_region& at) {
    CLI::Option* option = find(name, at);
    if (node.is_table()) {
      fail(at, fmt::format("'{}' is a table; presets hold `{} = value` lines (and a "
                           "[{}] section)", name, name, cmd_.get_name()));
    }
    if (is_switch(*option)) {
      const auto* on = node.as_boolean();
      if (on == nullptr) fail(node.source(), fmt::format("'{}' is a switch; give true or false", name));
      if (!on->get()) return;  // false: the switch's default
    }
    const std::vector<std::string> given = texts(name, *option, node);
    check_registry_value(name, *option, given, node.source());  // even where overridden
    if (option->count() > 0) return;  // the command line wins
    try {
      for (const auto& text : given) option->add_result(text);
      option->run_callback();  // CLI11's validators (ranges, paths)
    } catch (const CLI::ParseError& e) {
      fail(node.source(), fmt::format("bad value for '{}': {}", name, e.what()));
    }
    from_file_.push_back(option);
  }

  // A sampling option's value through the registry's parser and its own check, so that
  // the message names the line (the cross-option checks run later, as for the command line).
  void check_registry_value(const std::string& name, const CLI::Option& option,
                            const std::vector<std::string>& given,
                            const toml::source_region& at) const {
    const OptionSpec* spec = find_option(name);
    if (spec == nullptr || is_axis(option)) return;
    GenerateOptions scratch;
    try {
      spec->set(scratch, given);
      if (spec->check) spec->check(scratch);
    } catch (const UsageError& e) {
      fail(at, e.what());
    }
  }

  CLI::App& cmd_;
  std::string path_;
  std::vector<const CLI::Option*> from_file_;
};

}  // namespace

void apply_config_file(CLI::App& cmd, const std::string& path) {
  const std::string text = read_input_file(path, "config file", "--config");  // not a directory
  toml::table table;
  try {
    table = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    throw UsageError(one_line(fmt::format(
        "{}: not valid TOML: {}; a preset holds lines like steps = 64 or algorithm = \"entropy\"",
        where(path, e.source()), e.description())));
  }
  PresetReader reader(cmd, path);
  reader.apply(table, false);
  reader.check_exclusions();
}

}  // namespace dlm::cli
