#include "cli/option_binding.h"

#include "dlm/error.h"
#include "dlm/one_line.h"

namespace dlm::cli {
namespace {

const char* type_name(ValueType type) {
  switch (type) {
    case ValueType::kInteger: return "INT";
    case ValueType::kNumber: return "FLOAT";
    case ValueType::kOptionalNumber: return "FLOAT|none";
    case ValueType::kName: return "NAME";
    case ValueType::kSize: return "SIZE";
    case ValueType::kTextList: return "TEXT";
  }
  return "TEXT";
}

}  // namespace

CLI::Option* GivenOptions::bind(CLI::App& cmd, const OptionSpec& spec, const std::string& help,
                        const std::string& default_text) {
  CLI::Option* option = nullptr;
  if (spec.is_list()) {
    // One value per occurrence (--stop a --stop b): a list never swallows the bare prompt.
    option = cmd.add_option(spec.cli_names(), lists_[spec.name], help)
                 ->expected(1)
                 ->allow_extra_args(false)
                 ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  } else {
    option = cmd.add_option(spec.cli_names(), values_[spec.name], help);
  }
  option->type_name(type_name(spec.type));
  if (!default_text.empty()) option->default_str(default_text);
  options_[spec.name] = option;
  return option;
}

void GivenOptions::bind_all(CLI::App& cmd, const GenerateOptions& defaults) {
  for (const auto& spec : option_registry()) bind(cmd, spec, spec.help, option_text(spec, defaults));
}

std::vector<std::string> GivenOptions::texts(const OptionSpec& spec) const {
  const auto it = options_.find(spec.name);
  if (it == options_.end() || it->second->count() == 0) return {};
  if (spec.is_list()) return lists_.at(spec.name);
  return {values_.at(spec.name)};
}

void GivenOptions::apply(GenerateOptions& options) const {
  for (const auto& spec : option_registry()) {
    const auto given = texts(spec);
    if (given.empty()) continue;
    try {
      spec.set(options, given);
    } catch (const UsageError& e) {
      throw UsageError(one_line(e.what()));  // a preset's value may hold a newline
    }
  }
}

}  // namespace dlm::cli
