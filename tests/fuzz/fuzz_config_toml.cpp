// libFuzzer target: a TOML preset (`--config FILE`) read into dlm generate's options, as
// the CLI does it: toml++ through dlm's preset reader (src/cli/config_file.cpp), the
// option registry's parsers, then the model-free checks. Every problem must be a one-line
// UsageError.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cli/option_binding.h"
#include "dlm/sampling/options.h"
#include "fuzz_contract.h"

namespace {

// One preset file per fuzzing process, rewritten for every input.
const std::string& preset_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/dlm-fuzz-preset-" +
           std::to_string(::getpid()) + ".toml";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(preset_path().c_str(), "wb");
  dlm::fuzz::require(f != nullptr, "cannot write the preset file");
  std::fwrite(data, 1, size, f);
  std::fclose(f);

  // The options of dlm generate (src/cli/sampling_flags.cpp, without the model).
  CLI::App cmd("fuzz", "generate");
  cmd.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::string config, model, device = "cpu";
  int threads = 0;
  bool trust = false, visual = false, json = false;
  dlm::GenerateOptions options;
  dlm::cli::GivenOptions given;
  cmd.add_option("--config", config, "preset");
  cmd.add_option("-m,--model", model, "checkpoint");
  given.bind_all(cmd, options);
  cmd.add_option("-t,--threads", threads, "threads")->check(CLI::Range(0, 1024));
  cmd.add_option("--device", device, "device");
  cmd.add_flag("--trust-model", trust, "trust");
  cmd.add_flag("--visual", visual, "visual")->excludes(cmd.add_flag("--json", json, "json"));

  dlm::fuzz::expect_usage_error_or_success([&] {
    dlm::cli::apply_config_file(cmd, preset_path());
    given.apply(options);
    if (given.texts(*dlm::find_option("steps")).empty()) options.steps = options.max_new_tokens;
    dlm::check_options(options);
  });
  return 0;
}
