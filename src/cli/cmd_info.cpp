// `dlm info`: what a checkpoint holds (config, parameters, methods, tokenizer).
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/sampling_flags.h"
#include "dlm/model/checkpoint.h"
#include "dlm/model/model_paths.h"
#include "dlm/sampling/sampler.h"

namespace dlm::cli {
namespace {

struct InfoCommand {
  std::string model;
  RuntimeOptions runtime;
  LogOptions log;
};

int run(const InfoCommand& c) {
  apply_log_options(c.log);
  const std::string model = c.model.empty() ? default_model_path() : c.model;
  configure_runtime(c.runtime);
  const auto ck = Checkpoint::load(model, c.runtime);
  const ModelConfig& cfg = ck->config();
  std::cout << fmt::format("model:        {}\n", ck->path());
  std::cout << fmt::format("name:         {} (family {}, format v{})\n", cfg.name, cfg.family, cfg.format_version);
  std::cout << fmt::format("parameters:   {} ({:.1f}M, {})\n", ck->parameter_count(), ck->parameter_count() / 1e6, cfg.dtype);
  std::cout << fmt::format("methods:      {}\n", fmt::join(ck->methods(), ", "));
  std::cout << fmt::format("cache:        {}\n", ck->supports_cache()
      ? fmt::format("prefix and dual supported; {} bytes of keys/values per position", ck->kv_bytes_per_token())
      : std::string("not supported (no forward_kv / forward_window): runs uncached"));
  std::cout << fmt::format("tokenizer:    {}, {} ids; logits {} wide ({})\n", ck->tokenizer().kind(), ck->tokenizer().size(), ck->logits_width(), cfg.shifted_logits ? "shifted" : "aligned");
  std::cout << fmt::format("special ids:  mask {}, eos {}, pad {}, bos {}{}; bos prepended: {}\n", cfg.mask_id, cfg.eos_id, cfg.pad_id, cfg.bos_id, cfg.eot_id ? fmt::format(", eot {}", *cfg.eot_id) : "", cfg.add_bos ? "yes" : "no");
  std::cout << fmt::format("max length:   {} tokens\n", cfg.max_seq_len);
  std::cout << fmt::format("chat format:  {}{}\n",
                           cfg.chat_format.empty() ? "none (plain: --chat and dlm chat use the text as is)" : cfg.chat_format,
                           cfg.chat_system ? fmt::format("; default system turn \"{}\"", *cfg.chat_system) : "");
  std::cout << fmt::format("loaded in:    {:.0f} ms on {}\n", ck->load_ms(), ck->device());
  std::cout << "config.json:  " << cfg.raw_json << "\n";
  return 0;
}

}  // namespace

Runner add_info(CLI::App& app) {
  auto c = std::make_shared<InfoCommand>();
  CLI::App* cmd = app.add_subcommand("info", "Show a checkpoint's config, parameter count, methods and tokenizer");
  cmd->add_option("-m,--model", c->model, "Checkpoint (.pt); default: the shipped model");
  add_model_runtime_flags(*cmd, c->runtime);
  add_log_options(*cmd, c->log);
  return [c] { return run(*c); };
}

}  // namespace dlm::cli
