// `dlm options`: the sampling option registry, as a table or as JSON (--json) for tools
// that need dlm's defaults and names (scripts/reference/run_cases.py --dlm).
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "dlm/sampling/options.h"

namespace dlm::cli {
namespace {

using nlohmann::ordered_json;

// The default as JSON of the option's type: numbers as numbers, `none` as null.
ordered_json default_json(const OptionSpec& spec) {
  const auto texts = spec.get(GenerateOptions{});
  switch (spec.type) {
    case ValueType::kInteger:
    case ValueType::kSize:
      return ordered_json::parse(texts.at(0));
    case ValueType::kNumber:
      return std::stod(texts.at(0));
    case ValueType::kOptionalNumber:
      return texts.at(0) == "none" ? ordered_json(nullptr) : ordered_json(std::stod(texts.at(0)));
    case ValueType::kName:
      return texts.at(0);
    case ValueType::kTextList:
      return texts;
  }
  return nullptr;
}

int run(bool json) {
  if (json) {
    ordered_json all = ordered_json::array();
    for (const auto& spec : option_registry()) {
      all.push_back({{"name", spec.name},          {"key", spec.key()},
                     {"aliases", spec.aliases},    {"jsonl", spec.jsonl_keys},
                     {"default", default_json(spec)}, {"axis", spec.axis},
                     {"example", spec.example},    {"help", spec.help}});
    }
    std::cout << all.dump(1) << std::endl;
    return 0;
  }
  std::cout << fmt::format("{:<22} {:<12} {:<5} {:<27} {}\n", "option", "default", "axis",
                           "batch record keys", "help");
  for (const auto& spec : option_registry()) {
    std::string names = spec.flag();
    for (const auto& a : spec.aliases) names += ", " + a;
    std::string keys;
    for (const auto& k : spec.jsonl_keys) keys += (keys.empty() ? "" : ", ") + k;
    std::cout << fmt::format("{:<22} {:<12} {:<5} {:<27} {}\n", names,
                             option_text(spec, GenerateOptions{}), spec.axis ? "yes" : "",
                             keys.empty() ? "-" : keys, spec.help);
  }
  return 0;
}

}  // namespace

Runner add_options(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("options", "List the sampling options: names, defaults, sweep axes, batch record keys");
  cmd->add_flag("--json", *json, "Print them as a JSON list (name, key, aliases, jsonl, default, axis, example, help)");
  return [json] { return run(*json); };
}

}  // namespace dlm::cli
