// Equivalence with the in-repo Python references (scripts/reference/): every rule,
// schedule and preset, at temperature 0 and > 0, over 24 prompts, must give identical
// generated token ids, uncached and with Fast-dLLM's prefix and dual key/value caches.
// One Python process runs every case.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "dlm/model/checkpoint.h"
#include "dlm/sampling/sampler.h"
#include "test_support.h"

namespace {

using nlohmann::json;

const std::vector<std::string> kPrompts{
    "In the beginning",
    "And the LORD said unto Moses,",
    "Blessed are the",
    "And Jesus answered and said unto them,",
    "The LORD is my shepherd;",
    "Now the serpent was more subtil",
    "And it came to pass, when",
    "Then said he unto them,",
    "For God so loved the world,",
    "And David said to Saul,",
    "Hear, O Israel:",
    "Wisdom crieth without;",
    "And the children of Israel",
    "Behold, I send my messenger,",
    "Paul, an apostle of Jesus Christ",
    "And he went up into a mountain",
    "Thus saith the LORD of hosts,",
    "My son, forget not my law;",
    "And the woman said unto the serpent,",
    "Praise ye the LORD.",
    "In my Father's house are many mansions:",
    "Let not your heart be troubled:",
    "And Abraham rose up early in the morning,",
    "",
};

// One setting: dlm's options and the same settings in the reference's snake_case.
struct Setting {
  std::string name;
  json options;
  std::string config;  // a preset from configs/ (run through the CLI), or empty
};

std::vector<Setting> settings() {
  return {
      {"llada confidence", {{"block_length", 8}}, ""},
      {"llada margin", {{"block_length", 8}, {"algorithm", "margin"}}, ""},
      {"llada entropy", {{"block_length", 16}, {"algorithm", "entropy"}}, ""},
      {"llada random", {{"block_length", 8}, {"algorithm", "random"}}, ""},
      {"llada top-k", {{"block_length", 8}, {"top_k", 20}}, ""},
      {"llada ragged", {{"max_new_tokens", 30}, {"block_length", 8}, {"steps", 20}}, ""},
      {"llada cfg", {{"block_length", 16}, {"cfg_scale", 1.0}}, ""},
      {"llada eos suppress", {{"block_length", 8}, {"eos", "suppress"}}, ""},
      {"llada eos defer", {{"block_length", 8}, {"eos", "defer"}}, ""},
      {"llada eos stop", {{"block_length", 8}, {"eos", "stop"}}, ""},
      {"llada alg-temp", {{"block_length", 8}, {"alg_temp", 0.5}}, ""},
      {"dream block", {{"block_length", 8}, {"style", "dream"}, {"top_p", 0.9}}, ""},
      {"dream maskgit_plus", {{"schedule", "timestep"}, {"style", "dream"}, {"top_p", 0.9}}, ""},
      {"dream topk_margin", {{"schedule", "timestep"}, {"style", "dream"}, {"algorithm", "margin"}}, ""},
      {"dream entropy", {{"schedule", "timestep"}, {"style", "dream"}, {"algorithm", "entropy"}, {"top_k", 50}}, ""},
      {"dream alg-temp", {{"schedule", "timestep"}, {"style", "dream"}, {"alg_temp", 0.3}}, ""},
      {"dream origin", {{"schedule", "timestep"}, {"style", "dream"}, {"algorithm", "origin"}}, ""},
      {"llada timestep", {{"schedule", "timestep"}, {"algorithm", "confidence"}}, ""},
      {"mdlm ancestral", {{"schedule", "timestep"}, {"style", "dream"}, {"algorithm", "ancestral"}, {"eps", 1e-5}}, ""},
      {"fast-dllm threshold", {{"block_length", 8}, {"threshold", 0.7}}, ""},
      {"fast-dllm factor", {{"block_length", 16}, {"factor", 1.0}}, ""},
      {"preset llada", json::object(), "configs/llada.toml"},
      {"preset dream", json::object(), "configs/dream.toml"},
      {"preset fast-dllm", json::object(), "configs/fast-dllm.toml"},
      {"preset mdlm", json::object(), "configs/mdlm.toml"},
      {"preset llada21-edit", json::object(), "configs/llada21-edit.toml"},
      // Key/value caches: the same steps, logits from full passes at block boundaries
      // (and every cache_refresh calls) and window passes against the cache in between.
      {"dual confidence b8", {{"block_length", 8}, {"cache", "dual"}}, ""},
      {"prefix confidence b8", {{"block_length", 8}, {"cache", "prefix"}}, ""},
      {"dual confidence b16", {{"block_length", 16}, {"cache", "dual"}}, ""},
      {"prefix confidence b16", {{"block_length", 16}, {"cache", "prefix"}}, ""},
      {"dual margin", {{"block_length", 8}, {"algorithm", "margin"}, {"cache", "dual"}}, ""},
      {"prefix entropy", {{"block_length", 16}, {"algorithm", "entropy"}, {"cache", "prefix"}}, ""},
      {"dual random", {{"block_length", 8}, {"algorithm", "random"}, {"cache", "dual"}}, ""},
      {"dual dream block", {{"block_length", 8}, {"style", "dream"}, {"top_p", 0.9}, {"cache", "dual"}}, ""},
      {"dual threshold", {{"block_length", 8}, {"threshold", 0.7}, {"cache", "dual"}}, ""},
      {"prefix threshold", {{"block_length", 8}, {"threshold", 0.7}, {"cache", "prefix"}}, ""},
      {"dual factor", {{"block_length", 16}, {"factor", 1.0}, {"cache", "dual"}}, ""},
      {"dual cfg", {{"block_length", 16}, {"cfg_scale", 1.0}, {"cache", "dual"}}, ""},
      {"dual eos defer", {{"block_length", 8}, {"eos", "defer"}, {"cache", "dual"}}, ""},
      {"prefix ragged", {{"max_new_tokens", 30}, {"block_length", 8}, {"steps", 20}, {"cache", "prefix"}}, ""},
      {"dual refresh 2", {{"block_length", 16}, {"cache", "dual"}, {"cache_refresh", 2}}, ""},
      {"auto block (dual)", {{"block_length", 8}, {"cache", "auto"}}, ""},
      {"auto timestep (none)", {{"schedule", "timestep"}, {"cache", "auto"}}, ""},
      // EB-sampler: best score first while the entropies' sum minus their largest <= gamma.
      {"eb confidence", {{"block_length", 8}, {"eb_gamma", 0.5}}, ""},
      {"eb margin", {{"block_length", 16}, {"algorithm", "margin"}, {"eb_gamma", 2.0}}, ""},
      {"eb entropy", {{"block_length", 8}, {"algorithm", "entropy"}, {"eb_gamma", 0.1}}, ""},
      {"eb dream", {{"block_length", 8}, {"style", "dream"}, {"top_p", 0.9}, {"eb_gamma", 0.5}}, ""},
      {"eb eos defer", {{"block_length", 8}, {"eos", "defer"}, {"eb_gamma", 1.0}}, ""},
      {"eb dual", {{"block_length", 8}, {"eb_gamma", 1.0}, {"cache", "dual"}}, ""},
      // Bounded suffix (DPad): the model sees W positions past the block.
      {"suffix window", {{"max_new_tokens", 48}, {"block_length", 8}, {"steps", 24}, {"suffix_window", 8}}, ""},
      {"suffix window dual", {{"max_new_tokens", 48}, {"block_length", 8}, {"steps", 24}, {"suffix_window", 4}, {"cache", "dual"}}, ""},
      {"suffix prefix threshold", {{"max_new_tokens", 48}, {"block_length", 16}, {"threshold", 0.7}, {"suffix_window", 8}, {"cache", "prefix"}}, ""},
      // Elastic cache: dual, refreshed after a window pass whose stable keys drifted.
      {"elastic b8", {{"block_length", 8}, {"cache", "elastic"}, {"elastic_gamma", 0.99}}, ""},
      {"elastic b16 cfg", {{"block_length", 16}, {"cfg_scale", 1.0}, {"cache", "elastic"}, {"elastic_gamma", 0.95}}, ""},
      {"elastic eb", {{"block_length", 16}, {"eb_gamma", 0.5}, {"cache", "elastic"}, {"elastic_gamma", 0.98}}, ""},
      {"suffix eb dual cfg", {{"block_length", 8}, {"eb_gamma", 0.5}, {"suffix_window", 8}, {"cache", "dual"}, {"cfg_scale", 1.0}}, ""},
      // Hugging Face's logits processors: min-p (a filter after top-p/top-k), the repetition
      // penalty over the committed tokens, min_new_tokens (no eos/eot before N).
      {"llada min-p", {{"block_length", 8}, {"min_p", 0.2}}, ""},
      {"dream entropy min-p top-p penalty", {{"schedule", "timestep"}, {"style", "dream"}, {"algorithm", "entropy"}, {"min_p", 0.05}, {"top_p", 0.95}, {"repeat_penalty", 1.3}}, ""},
      {"llada repeat penalty", {{"block_length", 8}, {"repeat_penalty", 1.5}}, ""},
      {"min new tokens eos stop", {{"block_length", 8}, {"min_new_tokens", 24}, {"eos", "stop"}}, ""},
      {"mdlm penalty min new", {{"schedule", "timestep"}, {"style", "dream"}, {"algorithm", "ancestral"}, {"eps", 1e-5}, {"repeat_penalty", 1.3}, {"min_new_tokens", 16}}, ""},
      {"eb dual penalty min new min-p", {{"block_length", 8}, {"eb_gamma", 0.5}, {"cache", "dual"}, {"repeat_penalty", 1.2}, {"min_new_tokens", 8}, {"min_p", 0.1}}, ""},
      // Token editing (LLaDA 2.1): committed tokens of the open block re-read every call.
      {"edit top-k", {{"block_length", 8}, {"edit_threshold", 0.3}}, ""},
      {"edit threshold dual", {{"block_length", 16}, {"threshold", 0.5}, {"edit_threshold", 0.2}, {"cache", "dual"}}, ""},
      {"edit ragged budget 1", {{"max_new_tokens", 30}, {"block_length", 8}, {"steps", 20}, {"edit_threshold", 0.1}, {"max_post_steps", 1}}, ""},
      {"edit eb margin prefix", {{"block_length", 8}, {"algorithm", "margin"}, {"eb_gamma", 1.0}, {"edit_threshold", 0.2}, {"cache", "prefix"}}, ""},
      {"edit dream defer", {{"block_length", 8}, {"style", "dream"}, {"top_p", 0.9}, {"eos", "defer"}, {"edit_threshold", 0.3}}, ""},
      {"edit eos stop cfg", {{"block_length", 8}, {"eos", "stop"}, {"cfg_scale", 1.0}, {"edit_threshold", 0.2}}, ""},
  };
}

dlm::GenerateOptions to_options(const json& o) {
  dlm::GenerateOptions g;
  g.max_new_tokens = o.value("max_new_tokens", 32);
  g.steps = o.value("steps", 16);
  g.block_length = o.value("block_length", 32);
  g.temperature = o.value("temperature", 0.0);
  g.seed = o.value("seed", 0);
  g.algorithm = dlm::parse_algorithm(o.value("algorithm", "confidence"));
  g.style = dlm::parse_style(o.value("style", "llada"));
  g.schedule = dlm::parse_schedule(o.value("schedule", "block"));
  g.eps = o.value("eps", 1e-3);
  g.top_k = o.value("top_k", 0);
  g.top_p = o.value("top_p", 1.0);
  g.min_p = o.value("min_p", 0.0);
  g.repeat_penalty = o.value("repeat_penalty", 1.0);
  g.min_new_tokens = o.value("min_new_tokens", 0);
  if (o.contains("threshold")) g.threshold = o["threshold"].get<double>();
  if (o.contains("factor")) g.factor = o["factor"].get<double>();
  if (o.contains("eb_gamma")) g.eb_gamma = o["eb_gamma"].get<double>();
  g.suffix_window = o.value("suffix_window", 0);
  if (o.contains("edit_threshold")) g.edit_threshold = o["edit_threshold"].get<double>();
  g.max_post_steps = o.value("max_post_steps", 16);
  g.elastic_gamma = o.value("elastic_gamma", 0.9);
  g.alg_temp = o.value("alg_temp", 0.0);
  g.cfg_scale = o.value("cfg_scale", 0.0);
  g.eos = dlm::parse_eos_policy(o.value("eos", "none"));
  g.cache = dlm::parse_cache_mode(o.value("cache", "none"));
  g.cache_refresh = o.value("cache_refresh", 0);
  return g;
}

using dlm_test::LastCanvas;

using dlm_test::shell_quote;

std::vector<std::string> run_lines(const std::string& command) {
  std::vector<std::string> lines;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string current;
  char buffer[65536];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) current.append(buffer, n);
  const int status = pclose(pipe);
  REQUIRE(status == 0);
  std::istringstream in(current);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Generated ids before the first eos, from a final span.
std::vector<std::int64_t> before_eos(const std::vector<std::int64_t>& span, std::int64_t eos) {
  std::vector<std::int64_t> out;
  for (const auto id : span) {
    if (id == eos) break;
    out.push_back(id);
  }
  return out;
}

// The first index at which two spans differ (the shorter length when one is a prefix of the
// other), -1 when equal: where a failing case's tokens part.
std::int64_t first_difference(const std::vector<std::int64_t>& a,
                              const std::vector<std::int64_t>& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return static_cast<std::int64_t>(i);
  }
  return a.size() == b.size() ? -1 : static_cast<std::int64_t>(n);
}

}  // namespace

TEST_CASE("dlm matches the Python reference samplers token for token", "[reference]") {
  const std::string model = dlm_test::shipped_model_path();
  const std::string source = DLM_SOURCE_DIR;
  dlm::configure_runtime(dlm::RuntimeOptions{"cpu", 2});
  auto checkpoint = dlm::Checkpoint::load(model, "cpu");
  const std::int64_t eos = checkpoint->config().eos_id;

  struct Case {
    std::string name;
    std::string prompt;
    json options;
    std::string config;
  };
  std::vector<Case> cases;
  std::size_t prompt_index = 0;
  for (const auto& s : settings()) {
    for (const double temperature : {0.0, 0.9}) {
      json o = s.options;
      if (!s.config.empty()) {  // presets run as configured (their cache too), shortened
        o["max_new_tokens"] = 32;
        o["steps"] = 32;
      } else {  // without "cache" a setting is uncached (the reference's default is auto),
                // without "eos" it runs every step (as the reference; dlm's default is stop)
        const json defaults{{"max_new_tokens", 32}, {"steps", 16}, {"block_length", 32},
                            {"cache", "none"}, {"eos", "none"}};
        for (const auto& [key, value] : defaults.items()) {
          if (!o.contains(key)) o[key] = value;
        }
      }
      o["temperature"] = temperature;
      o["seed"] = 11 + prompt_index;
      cases.push_back({s.name + (temperature > 0 ? " T=0.9" : " T=0"),
                       kPrompts[prompt_index++ % kPrompts.size()], o, s.config});
    }
  }
  REQUIRE(prompt_index >= kPrompts.size());  // every prompt is used

  json input = json::array();
  for (const auto& c : cases) {
    json entry{{"prompt", c.prompt}, {"options", c.options}};
    if (!c.config.empty()) entry["config"] = source + "/" + c.config;
    input.push_back(entry);
  }
  dlm_test::TempDir dir;
  dlm_test::write_file(dir.file("cases.json"), input.dump());
  const auto lines = run_lines("OPENBLAS_NUM_THREADS=1 PYTHONPATH=" + source + "/scripts /usr/bin/python3 " + source +
                               "/scripts/reference/run_cases.py --threads 2 --dlm " +
                               shell_quote(DLM_EXECUTABLE) + " --model " +
                               shell_quote(model) + " " + shell_quote(dir.file("cases.json")));
  REQUIRE(lines.size() == cases.size());

  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const json ref = json::parse(lines[i]);
    const auto ref_span = ref["generated"].get<std::vector<std::int64_t>>();
    INFO(c.name << " | prompt: '" << c.prompt << "'");
    if (c.config.empty()) {
      const auto options = to_options(c.options);
      const auto prompt_ids = dlm::encode_prompt(*checkpoint, c.prompt);
      LastCanvas last;
      const auto result = dlm::generate(*checkpoint, prompt_ids, options, &last);
      INFO("first differing position: " << first_difference(last.generated, ref_span));
      CHECK(last.generated == ref_span);
      CHECK(result.token_ids == before_eos(ref_span, eos));
      CHECK(result.nfe == ref["nfe"].get<std::int64_t>());
    } else {
      // Presets go through the command line exactly as a user runs them.
      std::string command = std::string(DLM_EXECUTABLE) + " generate -q --json --config " +
                            shell_quote(source + "/" + c.config) + " -p " + shell_quote(c.prompt);
      for (const char* key : {"max_new_tokens", "steps", "temperature", "seed"}) {
        std::string flag = key;
        for (auto& ch : flag) ch = ch == '_' ? '-' : ch;
        command += " --" + flag + " " + c.options[key].dump();
      }
      const json out = json::parse(run_lines(command + " -t 2 </dev/null").at(0));
      const auto token_ids = out["token_ids"].get<std::vector<std::int64_t>>();
      INFO("first differing position: " << first_difference(token_ids, before_eos(ref_span, eos)));
      CHECK(token_ids == before_eos(ref_span, eos));
      CHECK(out["nfe"].get<std::int64_t>() == ref["nfe"].get<std::int64_t>());
    }
  }
}

TEST_CASE("shifted-logit checkpoints are read at output i - 1 by dlm and the reference",
          "[reference]") {
  const std::string model = std::string(DLM_SOURCE_DIR) + "/tests/data/shifted-tiny.pt";
  dlm::configure_runtime(dlm::RuntimeOptions{"cpu", 2});
  auto checkpoint = dlm::Checkpoint::load(model, "cpu");
  REQUIRE(checkpoint->config().shifted_logits);
  const std::vector<json> settings{
      {{"block_length", 8}},
      {{"schedule", "timestep"}, {"style", "dream"}, {"algorithm", "entropy"}},
      {{"schedule", "timestep"}, {"style", "dream"}, {"algorithm", "origin"}},
      {{"block_length", 8}, {"threshold", 0.5}},
      {{"block_length", 8}, {"cache", "dual"}},
      {{"block_length", 8}, {"cache", "prefix"}},
      {{"block_length", 8}, {"threshold", 0.5}, {"cache", "dual"}},
      {{"block_length", 8}, {"eb_gamma", 1.0}},
      {{"block_length", 8}, {"cache", "elastic"}, {"elastic_gamma", 0.99}},
      {{"block_length", 8}, {"suffix_window", 4}, {"cache", "prefix"}},
      {{"block_length", 8}, {"edit_threshold", 0.2}, {"cache", "dual"}}};
  json input = json::array();
  std::vector<json> options;
  std::size_t i = 0;
  for (const auto& s : settings) {
    for (const double temperature : {0.0, 0.9}) {
      json o = s;
      o["max_new_tokens"] = 24;
      o["steps"] = 12;
      if (!o.contains("block_length")) o["block_length"] = 32;
      if (!o.contains("cache")) o["cache"] = "none";
      if (!o.contains("eos")) o["eos"] = "none";
      o["temperature"] = temperature;
      o["seed"] = 5 + i;
      options.push_back(o);
      input.push_back({{"prompt", kPrompts[i++ % kPrompts.size()]}, {"options", o}});
    }
  }
  dlm_test::TempDir dir;
  dlm_test::write_file(dir.file("cases.json"), input.dump());
  const auto lines = run_lines("OPENBLAS_NUM_THREADS=1 PYTHONPATH=" DLM_SOURCE_DIR "/scripts /usr/bin/python3 " + std::string(DLM_SOURCE_DIR) +
                               "/scripts/reference/run_cases.py --threads 2 --dlm " +
                               shell_quote(DLM_EXECUTABLE) + " --model " +
                               shell_quote(model) + " " + shell_quote(dir.file("cases.json")));
  REQUIRE(lines.size() == options.size());
  for (std::size_t k = 0; k < options.size(); ++k) {
    INFO(options[k].dump());
    LastCanvas last;
    const auto prompt_ids = dlm::encode_prompt(*checkpoint, input[k]["prompt"].get<std::string>());
    const auto result = dlm::generate(*checkpoint, prompt_ids, to_options(options[k]), &last);
    const json ref = json::parse(lines[k]);
    const auto ref_span = ref["generated"].get<std::vector<std::int64_t>>();
    INFO("first differing position: " << first_difference(last.generated, ref_span));
    CHECK(last.generated == ref_span);
    CHECK(result.nfe == ref["nfe"].get<std::int64_t>());
  }
}
