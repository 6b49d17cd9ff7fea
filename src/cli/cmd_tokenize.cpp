// `dlm tokenize`: a text's ids under a checkpoint's tokenizer (read from the archive
// without loading the model). The Python reference samplers encode prompts of hf
// checkpoints with `dlm tokenize -m MODEL -p TEXT --json`: one JSON list on stdout.
#include <fmt/format.h>

#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/input_file.h"
#include "cli/terminal.h"
#include "dlm/error.h"
#include "dlm/model/checkpoint.h"
#include "dlm/model/model_paths.h"

namespace dlm::cli {
namespace {

struct TokenizeCommand {
  std::string model;
  std::string text;
  std::string file;
  bool json = false;
  bool verbose = false;
};

// Bytes as a double-quoted string: printable ASCII as is, the rest escaped (\n, \xNN).
std::string escape_bytes(const std::string& bytes) {
  std::string out = "\"";
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c >= 0x7F) {
      out += fmt::format("\\x{:02X}", c);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string read_text(const TokenizeCommand& c, const CLI::App& cmd) {
  if (cmd.count("--prompt") > 0) return c.text;
  if (cmd.count("--file") > 0 && c.file != "-") return read_input_file(c.file, "text file", "-f");
  if (cmd.count("--file") > 0 || !stdin_is_terminal()) {
    return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  }
  throw UsageError("no text to tokenize; pass -p TEXT or -f FILE ('-': stdin)");
}

int run(const TokenizeCommand& c, const CLI::App& cmd) {
  const std::string text = read_text(c, cmd);
  const auto tokenizer = load_tokenizer(c.model.empty() ? default_model_path() : c.model);
  const auto ids = tokenizer->encode(text);
  if (c.json) {
    std::cout << nlohmann::json(ids).dump() << "\n";
  } else if (c.verbose) {
    for (const auto id : ids) {
      std::cout << id << "\t" << tokenizer->token_text(id) << "\t" << escape_bytes(tokenizer->piece_bytes(id)) << "\n";
    }
  } else {
    std::cout << fmt::format("{}\n", fmt::join(ids, " "));
  }
  return 0;
}

}  // namespace

Runner add_tokenize(CLI::App& app) {
  auto c = std::make_shared<TokenizeCommand>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text (no beginning-of-sequence id)");
  cmd->add_option("-m,--model", c->model, "Checkpoint (.pt) whose tokenizer to use; default: the shipped model");
  auto* text = cmd->add_option("-p,--prompt", c->text, "The text");
  auto* file = cmd->add_option("-f,--file", c->file, "Read the text from a file ('-': stdin); default: stdin when it is not a terminal");
  text->excludes(file);
  auto* json = cmd->add_flag("--json", c->json, "Print one JSON list of ids");
  auto* verbose = cmd->add_flag("-v,--verbose", c->verbose, "One line per token: id, piece as the vocabulary spells it, its bytes");
  json->excludes(verbose);
  return [c, cmd] { return run(*c, *cmd); };
}

}  // namespace dlm::cli
