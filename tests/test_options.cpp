// The option registry: complete and unambiguous, the same defaults and option set in
// every front end (--help of generate, batch and sweep, TOML presets, `dlm options
// --json`, the Python references' fallback), JSONL keys that round-trip, and
// check_options: validate()'s model-free messages, given before any model loads.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "dlm/io/batch.h"
#include "dlm/sampling/sampler.h"
#include "dlm/sampling/options.h"
#include "dlm/eval/sweep.h"
#include "test_support.h"

using Catch::Matchers::Contains;
using dlm::GenerateOptions;
using dlm::OptionSpec;
using dlm::option_registry;
using dlm_test::CliResult;
using dlm_test::shell_quote;
using nlohmann::json;

namespace {

CliResult run_dlm(const std::string& args) {
  return dlm_test::run_shell(shell_quote(DLM_EXECUTABLE) + " " + args + " </dev/null");
}

// GenerateOptions with `spec` set to its example.
GenerateOptions with_example(const OptionSpec& spec, GenerateOptions o = {}) {
  spec.set(o, {spec.example});
  return o;
}

// The --help line of `flag`: the line whose names (its first word, comma-separated)
// include it; "" when absent.
std::string help_line(const std::string& help, const std::string& flag) {
  std::istringstream in(help);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string names;
    words >> names;
    std::istringstream parts(names);
    for (std::string name; std::getline(parts, name, ',');) {
      if (name == flag) return line;
    }
  }
  return {};
}

// Every registry option set to its example, then --top-p 2 (out of range): a command line
// that a command accepts only if it knows every option, and that fails in check_options.
std::string every_option_then_bad_top_p() {
  std::string args;
  for (const auto& spec : option_registry()) args += " " + spec.flag() + " " + shell_quote(spec.example);
  return args + " --top-p 2";
}

// A usage error from check_options: exit 2, one line, the top-p problem, no model named.
void require_top_p_error(const std::string& args) {
  const CliResult r = run_dlm(args);
  INFO("dlm " << args << "\nstderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK_THAT(r.err, Contains("--top-p 2 is outside (0, 1]"));
  CHECK_THAT(r.err, !Contains("nonexistent"));
}

// A mirror of GenerateOptions' members, in order: a field added there and not here (nor,
// most likely, in the registry) changes its size.
struct GenerateOptionsFields {
  std::int64_t a1, a2, a3;
  double b1;
  std::uint64_t c1;
  dlm::Algorithm d1;
  dlm::Style d2;
  dlm::Schedule d3;
  double e1;
  std::int64_t f1;
  double f2, f3, f4;
  std::optional<double> g1, g2, g3;
  double h1, h2;
  dlm::EosPolicy i1;
  std::int64_t i2;
  std::vector<std::string> j1;
  std::int64_t k1;
  dlm::CacheMode l1;
  std::int64_t m1;
  double m2;
  std::int64_t m3;
  std::optional<double> m5;  // edit_threshold
  std::int64_t m6, m4;       // max_post_steps, max_memory
};

}  // namespace

TEST_CASE("the registry reaches every GenerateOptions field under unique names", "[options]") {
  INFO("a new GenerateOptions field? give it a registry entry, then add it here");
  CHECK(sizeof(GenerateOptions) == sizeof(GenerateOptionsFields));
  REQUIRE(option_registry().size() == 29);

  std::set<std::string> spellings, jsonl_keys;
  std::size_t total = 0;
  for (const auto& spec : option_registry()) {
    INFO(spec.name);
    CHECK_FALSE(spec.help.empty());
    CHECK_FALSE(spec.example.empty());
    REQUIRE(spec.get);
    REQUIRE(spec.set);
    spellings.insert(spec.name);
    spellings.insert(spec.key() == spec.name ? "key:" + spec.key() : spec.key());
    for (const auto& a : spec.aliases) spellings.insert(a);
    total += 2 + spec.aliases.size();
    for (const auto& k : spec.jsonl_keys) CHECK(jsonl_keys.insert(k).second);
    CHECK(dlm::find_option(spec.flag()) == &spec);
    CHECK(dlm::find_option(spec.key()) == &spec);
    for (const auto& a : spec.aliases) CHECK(dlm::find_option(a) == &spec);
  }
  CHECK(spellings.size() == total);  // no name, key or alias twice
  CHECK(dlm::find_option("--bogus") == nullptr);

  // Every example differs from the default; together they change every field.
  GenerateOptions all;
  const GenerateOptions d;
  for (const auto& spec : option_registry()) {
    INFO(spec.name);
    CHECK(spec.get(with_example(spec)) != spec.get(d));
    spec.set(all, {spec.example});
  }
  CHECK(all.max_new_tokens != d.max_new_tokens);
  CHECK(all.steps != d.steps);
  CHECK(all.block_length != d.block_length);
  CHECK(all.temperature != d.temperature);
  CHECK(all.seed != d.seed);
  CHECK(all.algorithm != d.algorithm);
  CHECK(all.style != d.style);
  CHECK(all.schedule != d.schedule);
  CHECK(all.eps != d.eps);
  CHECK(all.top_k != d.top_k);
  CHECK(all.top_p != d.top_p);
  CHECK(all.min_p != d.min_p);
  CHECK(all.repeat_penalty != d.repeat_penalty);
  CHECK(all.min_new_tokens != d.min_new_tokens);
  CHECK(all.threshold != d.threshold);
  CHECK(all.factor != d.factor);
  CHECK(all.alg_temp != d.alg_temp);
  CHECK(all.cfg_scale != d.cfg_scale);
  CHECK(all.eos != d.eos);
  CHECK(all.stop != d.stop);
  CHECK(all.pad_multiple != d.pad_multiple);
  CHECK(all.cache != d.cache);
  CHECK(all.cache_refresh != d.cache_refresh);
  CHECK(all.max_memory != d.max_memory);
}

TEST_CASE("each option reads back what it prints and rejects text that is not a value",
          "[options]") {
  for (const auto& spec : option_registry()) {
    INFO(spec.name);
    for (const GenerateOptions& o : {GenerateOptions{}, with_example(spec)}) {
      GenerateOptions back;
      spec.set(back, spec.get(o));
      CHECK(spec.get(back) == spec.get(o));
    }
    // An example alone is a valid setting.
    CHECK_NOTHROW(dlm::check_options(with_example(spec)));
    if (spec.type == dlm::ValueType::kTextList) continue;
    GenerateOptions o;
    dlm_test::require_usage_error([&] { spec.set(o, {"abc"}); }, {spec.flag(), "'abc'"});
  }
  GenerateOptions o;
  dlm::find_option("threshold")->set(o, {"0.9"});
  CHECK(o.threshold == 0.9);
  dlm::find_option("threshold")->set(o, {"none"});
  CHECK_FALSE(o.threshold.has_value());
  dlm::find_option("max-memory")->set(o, {"2M"});
  CHECK(o.max_memory == 2 * 1024 * 1024);
  dlm_test::require_usage_error([&] { dlm::find_option("max-memory")->set(o, {"0.5"}); },
                                {"--max-memory '0.5' is less than one byte"});
  dlm::find_option("max-memory")->set(o, {"0.5K"});
  CHECK(o.max_memory == 512);
  dlm::find_option("stop")->set(o, {"a", "b"});
  CHECK(o.stop == std::vector<std::string>{"a", "b"});
  dlm::find_option("seed")->set(o, {"9007199254740991"});
  CHECK(o.seed == dlm::kMaxSeed);
  dlm_test::require_usage_error([&] { dlm::find_option("seed")->set(o, {"-2"}); }, {"--seed '-2'"});
  dlm_test::require_usage_error([&] { dlm::find_option("algorithm")->set(o, {"greedy"}); },
                                {"--algorithm 'greedy'", "confidence"});
}

TEST_CASE("check_options rejects each bad value with validate()'s message", "[options]") {
  using Edit = std::function<void(GenerateOptions&)>;
  const std::vector<std::pair<Edit, std::string>> cases{
      {[](auto& o) { o.max_new_tokens = 0; }, "--max-new-tokens 0 must be positive"},
      {[](auto& o) { o.steps = 0; }, "--steps 0 must be positive"},
      {[](auto& o) { o.max_new_tokens = 16, o.steps = 32; }, "--steps 32 is larger than the 16 tokens"},
      {[](auto& o) { o.block_length = 0; }, "--block-length 0 must be positive"},
      {[](auto& o) { o.block_length = 8, o.steps = 4; }, "--steps 4 is fewer than the 16 blocks"},
      {[](auto& o) { o.schedule = dlm::Schedule::kTimestep, o.max_new_tokens = 0; },
       "--max-new-tokens 0 must be positive"},
      {[](auto& o) { o.schedule = dlm::Schedule::kTimestep, o.steps = 200; },
       "--steps 200 is larger than the 128 tokens"},
      {[](auto& o) { o.schedule = dlm::Schedule::kTimestep, o.eps = 2; }, "--eps 2 is outside (0, 1)"},
      {[](auto& o) { o.temperature = -1; }, "--temperature -1 must be a finite number >= 0"},
      {[](auto& o) { o.top_k = -3; }, "--top-k -3 must be >= 0"},
      {[](auto& o) { o.top_p = 0; }, "--top-p 0 is outside (0, 1]"},
      {[](auto& o) { o.top_p = 1.5; }, "--top-p 1.5 is outside (0, 1]"},
      {[](auto& o) { o.threshold = 1.5; }, "--threshold 1.5 is outside (0, 1]; try 0.9"},
      {[](auto& o) { o.threshold = 0; }, "--threshold 0 is outside"},
      {[](auto& o) { o.factor = 0; }, "--factor 0 must be > 0; try 1"},
      {[](auto& o) { o.alg_temp = -1; }, "--alg-temp -1 must be >= 0"},
      {[](auto& o) { o.cfg_scale = -2; }, "--cfg-scale -2 must be >= 0"},
      {[](auto& o) { o.stop = {""}; }, "--stop needs a non-empty string"},
      {[](auto& o) { o.pad_multiple = 0; }, "--pad-multiple 0 is outside [1, 4096]; try 16"},
      {[](auto& o) { o.pad_multiple = 5000; }, "--pad-multiple 5000 is outside"},
      {[](auto& o) { o.cache_refresh = -1; }, "--cache-refresh -1 must be >= 0"},
      {[](auto& o) { o.max_memory = -1; }, "--max-memory -1 must be >= 0"},
      {[](auto& o) { o.threshold = 0.9, o.factor = 1; }, "--threshold and --factor are two parallel rules"},
      {[](auto& o) {
         o.schedule = dlm::Schedule::kTimestep, o.algorithm = dlm::Algorithm::kOrigin, o.threshold = 0.9;
       },
       "--algorithm origin reveals positions independently"},
      {[](auto& o) {
         o.schedule = dlm::Schedule::kTimestep, o.algorithm = dlm::Algorithm::kOrigin, o.alg_temp = 1;
       },
       "--algorithm origin does not rank positions"},
      {[](auto& o) { o.algorithm = dlm::Algorithm::kOrigin; }, "--algorithm origin needs --schedule timestep"},
      {[](auto& o) { o.schedule = dlm::Schedule::kTimestep, o.threshold = 0.9; },
       "--threshold and --factor work on blocks"},
      {[](auto& o) { o.threshold = 0.9, o.alg_temp = 0.5; }, "--alg-temp draws a fixed number"},
      {[](auto& o) { o.eb_gamma = -1; }, "--eb-gamma -1 must be a finite number >= 0"},
      {[](auto& o) { o.eb_gamma = 0.1, o.threshold = 0.9; }, "--eb-gamma is a parallel rule"},
      {[](auto& o) { o.eb_gamma = 0.1, o.alg_temp = 0.5; }, "--alg-temp draws a fixed number"},
      {[](auto& o) { o.schedule = dlm::Schedule::kTimestep, o.eb_gamma = 0.1; },
       "work on blocks (so does --eb-gamma)"},
      {[](auto& o) { o.suffix_window = -1; }, "--suffix-window -1 must be >= 0"},
      {[](auto& o) { o.schedule = dlm::Schedule::kTimestep, o.suffix_window = 32; },
       "--suffix-window 32 bounds the suffix past the current block; it needs --schedule block"},
      {[](auto& o) { o.edit_threshold = 1; }, "--edit-threshold 1 is outside [0, 1)"},
      {[](auto& o) { o.edit_threshold = -0.5; }, "--edit-threshold -0.5 is outside [0, 1)"},
      {[](auto& o) { o.edit_threshold = std::nan(""); }, "--edit-threshold nan is outside [0, 1)"},
      {[](auto& o) { o.max_post_steps = -1; }, "--max-post-steps -1 is outside [0, 1024]"},
      {[](auto& o) { o.max_post_steps = 5000; }, "--max-post-steps 5000 is outside [0, 1024]"},
      {[](auto& o) { o.schedule = dlm::Schedule::kTimestep, o.edit_threshold = 0.9; },
       "--edit-threshold 0.9 edits tokens of the current block; it needs --schedule block"},
      {[](auto& o) { o.schedule = dlm::Schedule::kTimestep, o.cache = dlm::CacheMode::kDual; },
       "--cache dual needs --schedule block"},
      // Unscored rules take any step count; an absurd one is refused before it is sized.
      {[](auto& o) {
         o.schedule = dlm::Schedule::kTimestep, o.algorithm = dlm::Algorithm::kAncestral,
         o.steps = 100000000000;
       },
       "--steps 100000000000 is more than any run can use (at most 1048576)"},
  };
  CHECK_NOTHROW(dlm::check_options(GenerateOptions{}));
  {  // before any block plan of 10^8 blocks is built (validate() names max_seq_len first)
    GenerateOptions o;
    o.max_new_tokens = o.steps = 100000000, o.block_length = 1;
    dlm_test::require_usage_error([&] { dlm::check_options(o); },
                                  {"--max-new-tokens 100000000 is more than any model takes"});
  }
  // validate() gives the same message: the model-free checks are a copy, not a variant.
  const dlm::Checkpoint& model = dlm_test::load_once(dlm_test::shipped_model_path());
  for (const auto& [edit, message] : cases) {
    INFO(message);
    GenerateOptions o;
    edit(o);
    dlm_test::require_usage_error([&] { dlm::check_options(o); }, {message});
    dlm_test::require_usage_error([&] { dlm::validate(o, model, 3); }, {message});
  }
}

TEST_CASE("every batch record key of the registry round-trips", "[options][batch]") {
  const auto example_json = [](const OptionSpec& spec) -> json {
    switch (spec.type) {
      case dlm::ValueType::kInteger: return json::parse(spec.example);
      case dlm::ValueType::kNumber:
      case dlm::ValueType::kOptionalNumber: return std::stod(spec.example);
      case dlm::ValueType::kTextList: return json::array({spec.example});
      default: return spec.example;
    }
  };
  std::size_t keys = 0;
  for (const auto& spec : option_registry()) {
    for (const auto& key : spec.jsonl_keys) {
      INFO(spec.name << " as \"" << key << "\"");
      std::set<std::string> unknown;
      const json record{{"prompt", "a"}, {key, example_json(spec)}};
      const auto r = dlm::parse_batch_record(record.dump(), 1, GenerateOptions{}, 0, unknown);
      CHECK(r.error.empty());
      CHECK(unknown.empty());
      CHECK(spec.get(r.options) == spec.get(with_example(spec)));
      ++keys;
    }
  }
  CHECK(keys >= 11);  // max_new_tokens|max_tokens, steps, ... threshold: today's keys at least
  std::set<std::string> unknown;
  // A list of stop strings, or one string; of two names of one option the first listed wins.
  auto r = dlm::parse_batch_record(R"({"prompt": "a", "stop": "x"})", 1, {}, 0, unknown);
  CHECK(r.options.stop == std::vector<std::string>{"x"});
  r = dlm::parse_batch_record(R"({"prompt": "a", "max_tokens": 8, "max_new_tokens": 16})", 1, {}, 0,
                              unknown);
  CHECK(r.options.max_new_tokens == 16);
  CHECK(r.options.steps == 16);
  CHECK_THAT(dlm::parse_batch_record(R"({"prompt": "a", "eos": 3})", 1, {}, 0, unknown).error,
             Contains("field \"eos\" has the wrong type (3)"));
  // Parsed; the range is checked with the model in (validate()), as for every record.
  CHECK(dlm::parse_batch_record(R"({"prompt": "a", "top_p": 2})", 1, {}, 0, unknown).error.empty());
  CHECK(unknown.empty());
  CHECK(dlm::record_defaults(GenerateOptions{}).steps == 128);
  GenerateOptions short_run;
  short_run.max_new_tokens = 16;
  CHECK(dlm::record_defaults(short_run).steps == 16);
}

TEST_CASE("dlm options --json lists the registry with GenerateOptions{} as defaults",
          "[options][cli]") {
  const CliResult r = run_dlm("options --json");
  REQUIRE(r.exit_code == 0);
  const json list = json::parse(r.out);
  REQUIRE(list.size() == option_registry().size());
  const GenerateOptions d;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const OptionSpec& spec = option_registry()[i];
    const json& e = list[i];
    INFO(e.dump());
    CHECK(e["name"] == spec.name);
    CHECK(e["key"] == spec.key());
    CHECK(e["aliases"] == spec.aliases);
    CHECK(e["jsonl"] == spec.jsonl_keys);
    CHECK(e["axis"] == spec.axis);
    CHECK(e["help"] == spec.help);
    const json& v = e["default"];
    std::vector<std::string> texts;
    if (v.is_null()) texts = {"none"};
    else if (v.is_number_float()) texts = {fmt::format("{}", v.get<double>())};
    else if (v.is_number()) texts = {v.dump()};
    else if (v.is_string()) texts = {v.get<std::string>()};
    else texts = v.get<std::vector<std::string>>();
    CHECK(texts == spec.get(d));
  }
  const CliResult table = run_dlm("options");
  REQUIRE(table.exit_code == 0);
  for (const auto& spec : option_registry()) CHECK_THAT(table.out, Contains(spec.flag()));
}

TEST_CASE("the Python references' fallback defaults agree with the registry", "[options]") {
  const std::string script = std::string(DLM_SOURCE_DIR) + "/scripts/reference/run_cases.py";
  const std::string code =
      "import ast, json, sys\n"
      "tree = ast.parse(open(sys.argv[1]).read())\n"
      "node = next(n for n in tree.body if isinstance(n, ast.Assign) and "
      "getattr(n.targets[0], 'id', '') == 'DEFAULTS')\n"
      "print(json.dumps(ast.literal_eval(node.value)))\n";
  const CliResult r = dlm_test::run_shell("/usr/bin/python3 -c " + shell_quote(code) + " " +
                                          shell_quote(script));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json defaults = json::parse(r.out);
  CHECK(defaults.size() >= 10);
  for (const auto& [key, value] : defaults.items()) {
    INFO(key << " = " << value.dump());
    const OptionSpec* spec = dlm::find_option(key);
    REQUIRE(spec != nullptr);
    GenerateOptions o;
    spec->set(o, {value.is_string() ? value.get<std::string>() : value.dump()});
    CHECK(spec->get(o) == spec->get(GenerateOptions{}));
  }
}

TEST_CASE("--help of generate, batch and sweep shows every option with its default",
          "[options][cli]") {
  const GenerateOptions d;
  GenerateOptions sweep_base;
  sweep_base.max_new_tokens = 64;  // dlm sweep's own default
  const dlm::SweepGrid grid;
  for (const std::string command : {"generate", "batch", "sweep"}) {
    const CliResult r = run_dlm(command + " --help");
    REQUIRE(r.exit_code == 0);
    for (const auto& spec : option_registry()) {
      INFO("dlm " << command << " --help, " << spec.flag());
      const std::string line = help_line(r.out, spec.flag());
      REQUIRE_FALSE(line.empty());
      for (const auto& a : spec.aliases) CHECK_THAT(line, Contains(a + ","));
      std::string shown = dlm::option_text(spec, command == "sweep" ? sweep_base : d);
      if (command == "sweep" && spec.axis) shown = dlm::axis_text(grid, spec.name);
      // CLI11: "INT=128 " (or "INT=128" at the end of the line, when the names are long and
      // the help goes on the next line).
      if (!shown.empty()) CHECK_THAT(line + " ", Contains("=" + shown + " "));
    }
  }
}

TEST_CASE("a bad option is reported before any model loads", "[options][cli][usage]") {
  dlm_test::TempDir dir;
  dlm_test::write_file(dir.file("in.jsonl"), "{\"prompt\": \"a\"}\n");
  const std::string missing = " -m /nonexistent.pt";
  // The missing model would be the error if the checkpoint were loaded first.
  require_top_p_error("generate -p x --top-p 2" + missing);
  require_top_p_error("batch -i " + shell_quote(dir.file("in.jsonl")) + " -o " +
                      shell_quote(dir.file("out.jsonl")) + " --top-p 2" + missing);
  require_top_p_error("sweep -i " + shell_quote(dir.file("in.jsonl")) + " -o " +
                      shell_quote(dir.file("out")) + " --top-p 2" + missing + " --judge /nonexistent.pt");
  CHECK_FALSE(std::filesystem::exists(dir.file("out.jsonl")));
  CHECK_FALSE(std::filesystem::exists(dir.file("out")));
  // generate, batch and sweep accept every registry option (with its example value).
  require_top_p_error("generate -p x" + every_option_then_bad_top_p() + missing);
  require_top_p_error("batch -i " + shell_quote(dir.file("in.jsonl")) + " -o " +
                      shell_quote(dir.file("out.jsonl")) + every_option_then_bad_top_p() + missing);
  require_top_p_error("sweep -i " + shell_quote(dir.file("in.jsonl")) + " -o " +
                      shell_quote(dir.file("out")) + every_option_then_bad_top_p() + missing);
}

TEST_CASE("a sweep grid none of whose cells can run is a usage error", "[options][sweep]") {
  dlm::SweepGrid grid;
  grid.steps = {4, 16, 32};
  GenerateOptions base;
  base.max_new_tokens = 8;
  CHECK_NOTHROW(dlm::check_grid(grid, base));  // steps 4 runs; 16 and 32 are skipped later
  grid.steps = {16, 32};
  dlm_test::require_usage_error([&] { dlm::check_grid(grid, base); },
                                {"no cell of the grid can run", "--steps 16 is larger"});
  grid.steps = {4, 8};
  base.top_p = 2;
  dlm_test::require_usage_error([&] { dlm::check_grid(grid, base); }, {"--top-p 2 is outside"});
}

TEST_CASE("a TOML preset takes every registry option by its long name", "[options][cli][config]") {
  dlm_test::TempDir dir;
  std::string toml;
  for (const auto& spec : option_registry()) {
    const std::string value = spec.name == "top-p" ? "2" : spec.example;
    const bool number = spec.type == dlm::ValueType::kInteger ||
                        spec.type == dlm::ValueType::kNumber ||
                        spec.type == dlm::ValueType::kOptionalNumber;
    toml += spec.name + " = " +
            (number ? value : spec.is_list() ? "[" + json(value).dump() + "]" : json(value).dump()) +
            "\n";
  }
  dlm_test::write_file(dir.file("all.toml"), toml);
  require_top_p_error("generate -p x --config " + shell_quote(dir.file("all.toml")) +
                      " -m /nonexistent.pt");
}

TEST_CASE("records that set the newer keys run in one batch as they run alone",
          "[options][batch]") {
  dlm::Checkpoint& model = dlm_test::load_once(dlm_test::shipped_model_path());
  GenerateOptions run;
  run.max_new_tokens = 8;
  run.steps = 8;
  run.block_length = 8;
  run.cache = dlm::CacheMode::kNone;
  const std::vector<std::string> records{
      R"({"prompt": "And God said", "factor": 1})",
      R"({"prompt": "And God said", "alg_temp": 0.5, "temperature": 0.8})",
      R"({"prompt": "And God said", "cfg_scale": 1.5})",
      R"({"prompt": "In the beginning", "eos": "defer", "top_k": 5, "temperature": 1.0})",
      R"({"prompt": "In the beginning", "style": "dream", "schedule": "timestep",
          "algorithm": "entropy", "eps": 0.01, "temperature": 0.5, "top_p": 0.9})"};
  std::vector<dlm::BatchRequest> requests;
  for (std::size_t i = 0; i < records.size(); ++i) {
    std::set<std::string> unknown;
    const auto r = dlm::parse_batch_record(records[i], static_cast<std::int64_t>(i + 1), run, 3, unknown);
    INFO(records[i]);
    REQUIRE(r.error.empty());
    CHECK(unknown.empty());
    const auto ids = dlm::encode_prompt(model, r.prompt);
    dlm::validate(r.options, model, static_cast<std::int64_t>(ids.size()));
    requests.push_back({ids, r.options, nullptr});
  }
  CHECK(requests[0].options.factor == 1.0);
  CHECK(requests[2].options.cfg_scale == 1.5);
  CHECK(requests[3].options.eos == dlm::EosPolicy::kDefer);
  CHECK(requests[4].options.schedule == dlm::Schedule::kTimestep);
  const auto together = dlm::generate_batch(model, requests);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    INFO(records[i]);
    CHECK(dlm::generate(model, requests[i].prompt_ids, requests[i].options).token_ids ==
          together[i].token_ids);
  }
}

TEST_CASE("llama.cpp's spellings are aliases of the registry entries", "[options]") {
  const std::vector<std::pair<std::string, std::string>> aliases{
      {"--temp", "temperature"},          {"-s", "seed"},
      {"--n-predict", "max-new-tokens"},  {"-n", "max-new-tokens"},
      {"--diffusion-steps", "steps"},     {"--diffusion-block-length", "block-length"},
      {"--diffusion-eps", "eps"},         {"--diffusion-algorithm", "algorithm"}};
  for (const auto& [alias, name] : aliases) {
    INFO(alias);
    const OptionSpec* spec = dlm::find_option(alias);
    REQUIRE(spec != nullptr);
    CHECK(spec->name == name);
    CHECK(std::count(spec->aliases.begin(), spec->aliases.end(), alias) == 1);
  }
  // llama.cpp's --diffusion-algorithm numbers (ORIGIN, ENTROPY_BASED, MARGIN_BASED, RANDOM,
  // CONFIDENCE_BASED), and names in any case.
  const std::vector<std::pair<std::string, dlm::Algorithm>> algorithms{
      {"0", dlm::Algorithm::kOrigin},      {"1", dlm::Algorithm::kEntropy},
      {"2", dlm::Algorithm::kMargin},      {"3", dlm::Algorithm::kRandom},
      {"4", dlm::Algorithm::kConfidence},  {"Entropy", dlm::Algorithm::kEntropy},
      {"MARGIN", dlm::Algorithm::kMargin}, {"Low_Confidence", dlm::Algorithm::kConfidence}};
  for (const auto& [text, algorithm] : algorithms) {
    INFO(text);
    GenerateOptions o;
    dlm::find_option("--diffusion-algorithm")->set(o, {text});
    CHECK(o.algorithm == algorithm);
  }
  GenerateOptions o;
  dlm::find_option("cache")->set(o, {"Dual"});
  CHECK(o.cache == dlm::CacheMode::kDual);
  dlm::find_option("schedule")->set(o, {"TimeStep"});
  CHECK(o.schedule == dlm::Schedule::kTimestep);
  dlm_test::require_usage_error([&] { dlm::find_option("algorithm")->set(o, {"5"}); },
                                {"--algorithm '5' is not known", "llama.cpp's numbers 0-4"});
  dlm_test::require_usage_error([&] { dlm::find_option("style")->set(o, {"GPT"}); },
                                {"--style 'GPT' is not known", "llada"});
}

TEST_CASE("--seed -1 draws a seed; seeds above 2^53 - 1 are refused, in records too",
          "[options][batch]") {
  const OptionSpec& seed = *dlm::find_option("seed");
  GenerateOptions a, b;
  seed.set(a, {"-1"});
  seed.set(b, {"-1"});
  CHECK(a.seed <= dlm::kMaxSeed);
  CHECK(b.seed <= dlm::kMaxSeed);
  CHECK(a.seed != b.seed);  // equal once in 2^53 runs
  CHECK(seed.get(a) == std::vector<std::string>{std::to_string(a.seed)});  // the drawn seed
  for (const std::string too_big : {"9007199254740992", "18446744073709551615",
                                    "99999999999999999999999"}) {
    INFO(too_big);
    dlm_test::require_usage_error([&] { seed.set(a, {too_big}); },
                                  {"--seed " + too_big + " is above 2^53 - 1 = 9007199254740991",
                                   "-1 for a random one"});
  }
  std::set<std::string> unknown;
  auto r = dlm::parse_batch_record(R"({"prompt": "a", "seed": 9007199254740992})", 4, {}, 0, unknown);
  CHECK_THAT(r.error, Contains("line 4: --seed 9007199254740992 is above 2^53 - 1"));
  r = dlm::parse_batch_record(R"({"prompt": "a", "seed": 9007199254740991})", 4, {}, 0, unknown);
  CHECK(r.error.empty());
  CHECK(r.options.seed == dlm::kMaxSeed);
  r = dlm::parse_batch_record(R"({"prompt": "a", "seed": -1})", 4, {}, 0, unknown);
  CHECK(r.error.empty());
  CHECK(r.options.seed <= dlm::kMaxSeed);
  // A derived seed is one a record could name: it fits too.
  for (const std::string id : {"a", "b", "line-1", "q17"}) {
    CHECK(dlm::derive_seed(dlm::kMaxSeed, id) <= dlm::kMaxSeed);
  }
}
