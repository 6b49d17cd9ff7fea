// Checkpoint::load on the shipped model, and one bad checkpoint per failure it must
// report as a UsageError naming the file and the problem. The bad checkpoints are
// small TorchScript modules built here, with config.json and tokenizer.model taken
// from the shipped model and then broken one at a time.
#include <catch2/catch.hpp>
#include <torch/script.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>

#include "dlm/model/checkpoint.h"
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
  f.tokenizer = std::string("\xFF\xFE\x00\x13garbage, not a sentencepiece model\x01\x02", 42);
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
