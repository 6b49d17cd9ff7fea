#include "cli/argument_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>

#include "dlm/error.h"

namespace dlm::cli {
namespace {

// llama.cpp flags that users bring along and that mean nothing to dlm, with the reason.
struct ForeignFlag {
  std::vector<std::string> names;
  const char* why;
};

const std::vector<ForeignFlag>& llama_cpp_flags() {
  static const std::vector<ForeignFlag> flags{
      {{"-ngl", "--n-gpu-layers", "--gpu-layers"},
       "llama.cpp's GPU-layers flag has no meaning here; dlm runs on --device"},
      {{"-c", "--ctx-size", "-ub", "--ubatch-size"},
       "llama.cpp's context and batch sizes have no meaning here; the canvas is the prompt "
       "plus --max-new-tokens"},
      {{"-fa", "--flash-attn"}, "llama.cpp's flash-attention switch has no meaning here"},
  };
  return flags;
}

// The name as compared: no leading dashes, lower case, '_' as '-'.
std::string bare(const std::string& name) {
  std::string s = name.substr(std::min(name.find_first_not_of('-'), name.size()));
  for (auto& c : s) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

const CLI::App* parent_or_self(const CLI::App& scope) {
  return scope.get_parent() != nullptr ? &scope : nullptr;
}

bool takes_value(const CLI::Option& option) { return option.get_items_expected_max() > 0; }

bool is_numeric(const CLI::Option& option) {
  // "INT", or "INT:INT in [0 - 1024]" once a CLI::Range check is attached.
  const std::string full = option.get_type_name();
  const std::string type = full.substr(0, full.find_first_of(": "));
  return type == "INT" || type == "UINT" || type == "FLOAT" || type == "SIZE";
}

bool starts_number(const std::string& s) {
  const std::size_t digit = s[0] == '-' || s[0] == '+' || s[0] == '.' ? 1 : 0;
  return digit < s.size() && std::isdigit(static_cast<unsigned char>(s[digit])) != 0;
}

std::vector<std::string> option_names(const CLI::App& scope) {
  std::vector<std::string> names;
  for (const CLI::Option* option : scope.get_options()) {
    for (const auto& l : option->get_lnames()) names.push_back("--" + l);
    for (const auto& s : option->get_snames()) names.push_back("-" + s);
  }
  return names;
}

const ForeignFlag* foreign_flag(const std::string& name) {
  for (const auto& flag : llama_cpp_flags()) {
    if (std::find(flag.names.begin(), flag.names.end(), name) != flag.names.end()) return &flag;
  }
  return nullptr;
}

[[noreturn]] void unknown_option(const CLI::App& scope, const std::string& name) {
  const std::string help = help_command(parent_or_self(scope));
  if (const ForeignFlag* flag = foreign_flag(name)) {
    throw UsageError(fmt::format("unknown option {} ({}); see {}", name, flag->why, help));
  }
  const std::string near = closest_name(name, option_names(scope));
  throw UsageError(fmt::format("unknown option {}{}; see {}", name,
                               near.empty() ? "" : " (did you mean " + near + "?)", help));
}

// What one argument that starts with a dash holds: the option in it that takes a value
// (nullptr: flags only), and whether that value is the next argument.
struct Checked {
  const CLI::Option* valued = nullptr;
  bool takes_next = false;
};

Checked check_option(const CLI::App& scope, const std::string& arg) {
  const std::string name = arg.substr(0, arg.find('='));
  if (arg[1] == '-' || arg.size() == 2) {  // --name, --name=value, -x
    const CLI::Option* option = scope.get_option_no_throw(name);
    if (option == nullptr) unknown_option(scope, name);
    if (!takes_value(*option)) return {};
    return {option, name.size() == arg.size()};
  }
  if (foreign_flag(name) != nullptr) unknown_option(scope, name);  // -fa is not -f a
  // A cluster, as CLI11 reads it: flags (-vq), then at most one option that takes the rest
  // as its value (-n16) or the next argument. `-ngl` would be -n with the value "gl".
  for (std::size_t k = 1; k < arg.size(); ++k) {
    const CLI::Option* option = scope.get_option_no_throw(std::string{'-', arg[k]});
    if (option == nullptr) unknown_option(scope, arg);
    if (!takes_value(*option)) continue;
    const std::string rest = arg.substr(k + 1);
    if (!rest.empty() && is_numeric(*option) && !starts_number(rest)) unknown_option(scope, arg);
    return {option, rest.empty()};
  }
  return {};
}

// A subcommand with a positional (generate's prompt) takes one: several bare words are a
// prompt left unquoted, and a bare word besides -p is a second prompt.
void check_words(const CLI::App& cmd, const std::vector<std::string>& words, bool named) {
  const auto positionals = cmd.get_options([](const CLI::Option* o) { return o->get_positional(); });
  if (positionals.empty() || words.size() + (named ? 1 : 0) <= 1) return;
  std::string what = positionals.front()->get_name(true);
  for (auto& c : what) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (named) {
    throw UsageError(fmt::format("the {} is given twice, by {} and as '{}'; give it once; see {}",
                                 what, positionals.front()->get_name(), words.front(),
                                 help_command(&cmd)));
  }
  throw UsageError(fmt::format("dlm {} takes one {}, not {} words; quote it: dlm {} \"{}\"",
                               cmd.get_name(), what, words.size(), cmd.get_name(),
                               fmt::join(words, " ")));
}

const CLI::App* find_subcommand(const CLI::App& app, const std::string& name) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->check_name(name)) return sub;
    names.push_back(sub->get_name());
  }
  const std::string near = closest_name(name, names);
  throw UsageError(fmt::format("unknown subcommand '{}' ({}); see dlm --help", name,
                               near.empty() ? fmt::format("the subcommands are {}",
                                                          fmt::join(names, ", "))
                                            : "did you mean '" + near + "'?"));
}

}  // namespace

std::string closest_name(const std::string& name, const std::vector<std::string>& candidates) {
  const std::string key = bare(name);
  // A short name is a few edits from anything: there only a different spelling counts
  // (`--n` for -n, `-steps` for --steps).
  const std::size_t allowed = key.size() <= 3 ? 0 : key.size() <= 6 ? 1 : 2;
  std::string best;
  std::size_t best_distance = allowed + 1;
  for (const auto& candidate : candidates) {
    const std::size_t d = edit_distance(key, bare(candidate));
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

std::string help_command(const CLI::App* subcommand) {
  return subcommand ? fmt::format("dlm {} --help", subcommand->get_name()) : "dlm --help";
}

const CLI::App* check_arguments(const CLI::App& app, const std::vector<std::string>& args) {
  const CLI::App* subcommand = nullptr;
  std::vector<std::string> words;  // bare arguments after the subcommand
  bool named = false;              // its positional option was also given by name (-p)
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {  // the rest are positionals
      words.insert(words.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    const bool option = arg.size() >= 2 && arg[0] == '-' &&
                        std::isdigit(static_cast<unsigned char>(arg[1])) == 0;  // -5 is a value
    if (option) {
      const Checked checked = check_option(subcommand ? *subcommand : app, arg);
      named = named || (checked.valued != nullptr && checked.valued->get_positional());
      if (checked.takes_next) ++i;
    } else if (subcommand == nullptr) {
      subcommand = find_subcommand(app, arg);
    } else {
      words.push_back(arg);
    }
  }
  if (subcommand != nullptr) check_words(*subcommand, words, named);
  return subcommand;
}

}  // namespace dlm::cli
