// Checkpoint::load on the shipped model, and one bad checkpoint per failure it must
// report as a UsageError naming the file and the problem. The bad checkpoints are
// small TorchScript modules built here, with config.json and tokenizer.model taken
// from the shipped model and then broken one at a time.
// torch first: its glog defines a one-argument CHECK that Catch's must replace.
#include <torch/script.h>
#undef CHECK
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "dlm/model/checkpoint.h"
#include "dlm/model/denoiser.h"
#include "dlm/model/model_config.h"
#include "dlm/sampling/sampler.h"
#include "dlm/error.h"
#include "test_support.h"

using dlm::Checkpoint;
using dlm_test::require_usage_error;
using dlm_test::shipped_model_path;
using dlm_test::TempDir;
using nlohmann::json;

namespace {

const Checkpoint& shipped() { return dlm_test::load_once(shipped_model_path()); }

// config.json and tokenizer.model as stored in the shipped model.
const torch::jit::ExtraFilesMap& shipped_extra_files() {
  static const torch::jit::ExtraFilesMap files = [] {
    torch::jit::ExtraFilesMap extra{{"config.json", ""}, {"tokenizer.model", ""}};
    torch::jit::load(shipped_model_path(), c10::nullopt, extra);
    return extra;
  }();
  return files;
}

json shipped_config() { return json::parse(shipped_extra_files().at("config.json")); }

// forward(...) returning zero logits of the given width.
std::string zeros_forward(std::int64_t width) {
  return "def forward(self, input_ids, attention_mask: Optional[Tensor]=None, "
         "position_ids: Optional[Tensor]=None):\n"
         "    return torch.zeros(input_ids.size(0), input_ids.size(1), " +
         std::to_string(width) + ")\n";
}

// What a fixture's archive holds; each field is one way to break it.
struct Fixture {
  std::string methods = zeros_forward(4096);
  std::optional<std::string> config = shipped_config().dump();
  std::optional<std::string> tokenizer = shipped_extra_files().at("tokenizer.model");
};

std::string write_fixture(const TempDir& dir, const Fixture& f) {
  torch::jit::Module module("DlmFixture");
  module.define(f.methods);
  torch::jit::ExtraFilesMap extra;
  if (f.config) extra["config.json"] = *f.config;
  if (f.tokenizer) extra["tokenizer.model"] = *f.tokenizer;
  const std::string path = dir.file("fixture.pt");
  module.save(path, extra);
  return path;
}

std::string config_with(const std::string& key, const json& value) {
  json config = shipped_config();
  config[key] = value;
  return config.dump();
}

std::string config_without(const std::string& key) {
  json config = shipped_config();
  config.erase(key);
  return config.dump();
}

// Requires load(path) to throw a UsageError naming the path and `problem`.
void require_load_error(const std::string& path, const std::string& problem) {
  INFO("loading " << path);
  require_usage_error([&] { Checkpoint::load(path, "cpu"); }, {path, problem});
}

void require_fixture_error(const Fixture& fixture, const std::string& problem) {
  TempDir dir;
  require_load_error(write_fixture(dir, fixture), problem);
}

}  // namespace

TEST_CASE("Checkpoint::load reads the shipped model", "[checkpoint]") {
  const Checkpoint& ck = shipped();
  CHECK(ck.path() == shipped_model_path());
  CHECK(ck.device() == "cpu");
  CHECK(ck.load_ms() > 0.0);
  const dlm::ModelConfig& cfg = ck.config();
  CHECK(cfg.format_version == 1);
  CHECK(cfg.family == "llada");
  CHECK(cfg.vocab_size == 4096);
  CHECK(cfg.mask_id == 4);
  CHECK(cfg.eos_id == 3);
  CHECK(cfg.bos_id == 2);
  CHECK(cfg.pad_id == 0);
  CHECK(cfg.max_seq_len == 512);
  CHECK(cfg.add_bos);
  CHECK_FALSE(cfg.shifted_logits);
  CHECK(cfg.raw_json == shipped_extra_files().at("config.json"));
  CHECK(ck.tokenizer().size() == 4096);
  CHECK(ck.tokenizer().kind() == "sentencepiece");
  CHECK(ck.logits_width() >= 4096);
  const auto methods = ck.methods();
  CHECK(std::find(methods.begin(), methods.end(), "forward") != methods.end());
  CHECK(ck.parameter_count() > 1000000);
}

TEST_CASE("The shipped tokenizer round-trips KJV text through its pieces", "[checkpoint]") {
  const dlm::Tokenizer& tok = shipped().tokenizer();
  const auto ids = tok.encode("In the beginning God created the heaven and the earth.");
  REQUIRE_FALSE(ids.empty());
  for (const auto id : ids) {
    CHECK(id >= 0);
    CHECK(id < tok.size());
  }
  CHECK(tok.decode_bytes(ids) == " In the beginning God created the heaven and the earth.");
  CHECK(tok.piece_bytes(shipped().config().mask_id).empty());  // control ids have no text
  CHECK(tok.piece_bytes(shipped().config().eos_id).empty());
}

TEST_CASE("A fixture with valid config, tokenizer and forward loads", "[checkpoint]") {
  TempDir dir;
  const std::string path = write_fixture(dir, Fixture{});
  const auto ck = Checkpoint::load(path, "cpu");
  CHECK(ck->path() == path);
  CHECK(ck->logits_width() == 4096);
  CHECK(ck->tokenizer().size() == 4096);
  CHECK(ck->parameter_count() == 0);
  Fixture wide;  // a padded output head wider than the vocabulary is fine
  wide.methods = zeros_forward(4160);
  TempDir wide_dir;
  CHECK(Checkpoint::load(write_fixture(wide_dir, wide), "cpu")->logits_width() == 4160);
}

TEST_CASE("Checkpoint::load rejects a missing path", "[checkpoint][bad]") {
  TempDir dir;
  require_load_error(dir.file("no-such-model.pt"), "does not exist");
}

TEST_CASE("Checkpoint::load rejects a directory", "[checkpoint][bad]") {
  TempDir dir;
  require_load_error(dir.path().string(), "is not a file");
}

TEST_CASE("Checkpoint::load rejects a text file", "[checkpoint][bad]") {
  TempDir dir;
  const std::string path = dir.file("notes.pt");
  dlm_test::write_file(path, "In the beginning God created the heaven and the earth.\n");
  require_load_error(path, "not a TorchScript archive");
}

TEST_CASE("Checkpoint::load rejects a truncated copy of the shipped model", "[checkpoint][bad]") {
  TempDir dir;
  const std::string path = dir.file("truncated.pt");
  dlm_test::write_file(path, dlm_test::read_file(shipped_model_path()).substr(0, 1 << 20));
  require_load_error(path, "truncated");
}

TEST_CASE("Checkpoint::load rejects an archive without config.json", "[checkpoint][bad]") {
  Fixture f;
  f.config.reset();
  require_fixture_error(f, "no config.json");
}

TEST_CASE("Checkpoint::load rejects a config.json that is not JSON", "[checkpoint][bad]") {
  Fixture f;
  f.config = "{\"format_version\": 1, \"vocab_size\": ";
  require_fixture_error(f, "not JSON");
}

TEST_CASE("Checkpoint::load rejects a config.json without mask_token_id", "[checkpoint][bad]") {
  Fixture f;
  f.config = config_without("mask_token_id");
  require_fixture_error(f, "'mask_token_id' is missing");
}

TEST_CASE("Checkpoint::load rejects config format_version 2", "[checkpoint][bad]") {
  Fixture f;
  f.config = config_with("format_version", 2);
  require_fixture_error(f, "format_version 2");
}

TEST_CASE("Checkpoint::load rejects an archive without tokenizer.model", "[checkpoint][bad]") {
  Fixture f;
  f.tokenizer.reset();
  require_fixture_error(f, "no tokenizer.model");
}

TEST_CASE("Checkpoint::load rejects a tokenizer.model of garbage bytes", "[checkpoint][bad]") {
  Fixture f;
  static const char garbage[] = "\xFF\xFE\x00\x13garbage, not a sentencepiece model\x01\x02";
  f.tokenizer = std::string(garbage, sizeof garbage - 1);  // the bytes, NUL included, not the terminator
  require_fixture_error(f, "tokenizer.model is not a sentencepiece model");
}

TEST_CASE("Checkpoint::load rejects a module without forward", "[checkpoint][bad]") {
  Fixture f;
  f.methods = "def denoise(self, input_ids):\n    return torch.zeros(1, 1, 4096)\n";
  require_fixture_error(f, "no forward method");
}

TEST_CASE("Checkpoint::load rejects a special id outside the vocabulary", "[checkpoint][bad]") {
  Fixture f;
  f.config = config_with("mask_token_id", 5000);
  require_fixture_error(f, "mask_token_id 5000 is outside the vocabulary");
}

TEST_CASE("Checkpoint::load rejects logits narrower than the tokenizer", "[checkpoint][bad]") {
  Fixture f;
  f.methods = zeros_forward(100);
  require_fixture_error(f, "logits are 100 wide");
}

TEST_CASE("Checkpoint::load rejects a config vocab_size that differs from the tokenizer",
          "[checkpoint][bad]") {
  Fixture f;
  f.config = config_with("vocab_size", 5000);
  require_fixture_error(f, "vocab_size 5000 but the tokenizer has 4096");
}

TEST_CASE("config.json fields of the wrong type are refused with the file's name", "[checkpoint][bad]") {
  // Each: a key, a bad value, and what the message must say. nlohmann's own conversions
  // would truncate floats, wrap big integers or throw type_error without the file name.
  const std::vector<std::tuple<std::string, json, std::string>> cases{
      {"family", 7, "'family' must be a string"},
      {"name", json::array(), "'name' must be a string"},
      {"add_bos", "yes", "'add_bos' must be true or false"},
      {"causal", 1, "'causal' must be true or false"},
      {"logits", false, "'logits' must be a string"},
      {"format_version", 1.9, "'format_version' must be an integer"},
      {"format_version", 4294967297LL, "format_version 4294967297 is not supported"},
      {"vocab_size", 4096.5, "'vocab_size' must be an integer"},
      {"max_seq_len", 18446744073709551615ULL, "'max_seq_len' must be an integer"},
      {"mask_token_id", "3", "'mask_token_id' must be an integer"},
      {"tokenizer", "wordpiece", "tokenizer 'wordpiece' must be"},
      {"chat_format", "alpaca", "chat_format 'alpaca' must be"},
      {"chat_system", 3, "'chat_system' must be a string"},
  };
  for (const auto& [key, value, problem] : cases) {
    INFO(key << " = " << value.dump());
    require_usage_error([&] { dlm::parse_model_config(config_with(key, value), "ck.pt"); },
                        {"ck.pt", problem});
  }
  // Numbers that do not fit a double and nesting deep enough to overflow a recursive
  // printer are refused before anything reads them.
  require_usage_error([] { dlm::parse_model_config("{\"format_version\": 1, \"vocab_size\": 1e340}", "ck.pt"); },
                      {"ck.pt", "not JSON"});
  const std::string deep = "{\"x\": " + std::string(80000, '[') + std::string(80000, ']') + "}";
  require_usage_error([&] { dlm::parse_model_config(deep, "ck.pt"); }, {"ck.pt", "nest deeper than"});
}

TEST_CASE("config.json chat_format and chat_system are read", "[checkpoint]") {
  json config = shipped_config();
  config["chat_format"] = "chatml";
  config["chat_system"] = "You are a helpful assistant.";
  const auto cfg = dlm::parse_model_config(config.dump(), "ck.pt");
  CHECK(cfg.chat_format == "chatml");
  CHECK(cfg.chat_system == std::optional<std::string>("You are a helpful assistant."));
  CHECK(dlm::parse_model_config(shipped_config().dump(), "ck.pt").chat_format.empty());
}

namespace {

// Generates 4 tokens after "In the" with a fixture whose forward is `body` (indented
// code returning the logits; it passes the load probe on [1, 2]); `prompts` rows share
// each forward call. Returns the dlm::Error's message, or "" when none was thrown.
std::string generation_error(const std::string& body, int prompts = 1) {
  Fixture f;
  f.methods = "def forward(self, input_ids, attention_mask: Optional[Tensor]=None, "
              "position_ids: Optional[Tensor]=None):\n" + body;
  TempDir dir;
  const auto ck = Checkpoint::load(write_fixture(dir, f), "cpu");
  dlm::GenerateOptions options;
  options.max_new_tokens = 4;
  options.steps = 4;
  options.block_length = 4;
  options.cache = dlm::CacheMode::kNone;
  std::vector<dlm::BatchRequest> requests;
  for (int i = 0; i < prompts; ++i) requests.push_back({dlm::encode_prompt(*ck, "In the"), options});
  try {
    dlm::generate_batch(*ck, requests);
  } catch (const dlm::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("Model outputs of the wrong shape are refused on every call", "[checkpoint][bad]") {
  // Right on the [1, 2] load probe, wrong on a real canvas: fewer positions than given,
  // or the batch dimension ignored (two prompts share one call).
  const std::string fewer = generation_error("    return torch.zeros(input_ids.size(0), 2, 4096)\n");
  CHECK_THAT(fewer, Catch::Matchers::Contains("forward returned logits [1, 2, 4096] for input [1, 16]"));
  const std::string unbatched =
      generation_error("    return torch.zeros(1, input_ids.size(1), 4096)\n", 2);
  CHECK_THAT(unbatched, Catch::Matchers::Contains("forward returned logits [1, 16, 4096] for input [2, 16]"));
}

TEST_CASE("NaN or infinite logits are an error, not token 0", "[checkpoint][bad]") {
  const std::string nan = generation_error(
      "    return torch.full([input_ids.size(0), input_ids.size(1), 4096], float('nan'))\n");
  CHECK_THAT(nan, Catch::Matchers::Contains("NaN or infinite logits"));
  const std::string inf = generation_error(
      "    x = torch.zeros(input_ids.size(0), input_ids.size(1), 4096)\n"
      "    x[:, :, 7] = float('inf')\n    return x\n");
  CHECK_THAT(inf, Catch::Matchers::Contains("NaN or infinite logits"));
}

TEST_CASE("A model's exception shows its reason", "[checkpoint][bad]") {
  const std::string error = generation_error(
      "    x = torch.zeros(input_ids.size(0), input_ids.size(1), 4096)\n"
      "    if input_ids.size(1) > 2:\n"
      "        x = x + torch.zeros(3, 5)\n"
      "    return x\n");
  CHECK_THAT(error, Catch::Matchers::Contains("the model's forward failed"));
  CHECK_THAT(error, Catch::Matchers::Contains("must match the size of tensor b (5)"));
  CHECK(error.find("The following operation failed") == std::string::npos);
  CHECK(error.find('\n') == std::string::npos);
}

TEST_CASE("A checkpoint whose code can touch files is refused before it runs", "[checkpoint][bad]") {
  // The probe would run forward: here it would create (shared, writable) a file of the
  // checkpoint's choosing. The audit finds the operator, also in a called function.
  TempDir dir;
  const std::string victim = dir.file("written-by-the-checkpoint.bin");
  Fixture f;
  f.methods = "def forward(self, input_ids, attention_mask: Optional[Tensor]=None, "
              "position_ids: Optional[Tensor]=None):\n"
              "    x = torch.from_file('" + victim + "', True, 16)\n"
              "    return torch.zeros(input_ids.size(0), input_ids.size(1), 4096) + x[0]\n";
  const std::string path = write_fixture(dir, f);
  require_load_error(path, "its code calls aten::from_file (in forward), which can read or write files");
  CHECK_FALSE(std::filesystem::exists(victim));
  // Trusted explicitly, it loads (and its probe writes the file, as its author meant).
  dlm::configure_runtime({"cpu", 1, true});
  CHECK_NOTHROW(Checkpoint::load(path, "cpu"));
  dlm::configure_runtime({"cpu", 1, false});
  CHECK(std::filesystem::exists(victim));
}

TEST_CASE("Checkpoint::load rejects fast passes that disagree with the cache methods",
          "[checkpoint][bad][fast]") {
  // Zero logits and keys everywhere, but forward_window_update returns ones: a broken export.
  const std::string cache_methods =
      "def forward_kv(self, input_ids, attention_mask, position_ids):\n"
      "    b, l = input_ids.size(0), input_ids.size(1)\n"
      "    return torch.zeros(b, l, 4096), torch.zeros(1, b, 1, l, 2), torch.zeros(1, b, 1, l, 2)\n"
      "def forward_window(self, window_ids, window_positions, offsets, cache_keys, cache_values, key_mask):\n"
      "    b, w = window_ids.size(0), window_ids.size(1)\n"
      "    return torch.zeros(b, w, 4096), torch.zeros(1, b, 1, w, 2), torch.zeros(1, b, 1, w, 2)\n"
      "def forward_rows(self, input_ids, attention_mask, position_ids, row_offsets, rows: int):\n"
      "    return torch.zeros(input_ids.size(0), rows, 4096)\n"
      "def forward_kv_rows(self, input_ids, attention_mask, position_ids, row_offsets, rows: int):\n"
      "    b, l = input_ids.size(0), input_ids.size(1)\n"
      "    return torch.zeros(b, rows, 4096), torch.zeros(1, b, 1, l, 2), torch.zeros(1, b, 1, l, 2)\n";
  Fixture good;
  good.methods = zeros_forward(4096) + cache_methods +
                 "def forward_window_update(self, window_ids, window_positions, offsets, cache_keys, "
                 "cache_values, key_mask, row_offsets, rows: int):\n"
                 "    return torch.zeros(window_ids.size(0), rows, 4096)\n";
  TempDir dir;
  CHECK(Checkpoint::load(write_fixture(dir, good), "cpu")->denoiser().supports_fast_passes());
  Fixture broken;
  broken.methods = zeros_forward(4096) + cache_methods +
                   "def forward_window_update(self, window_ids, window_positions, offsets, cache_keys, "
                   "cache_values, key_mask, row_offsets, rows: int):\n"
                   "    return torch.ones(window_ids.size(0), rows, 4096)\n";
  require_fixture_error(broken, "disagree with forward_kv / forward_window");
}
