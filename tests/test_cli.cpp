// The dlm executable as a user runs it: exit codes, stdout, the --json record, prompt
// sources, and one-line errors (exit 2) for every kind of bad input.
#include <catch2/catch.hpp>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "dlm/version.h"
#include "test_support.h"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using dlm_test::TempDir;
using nlohmann::json;

namespace {

using dlm_test::CliResult;
using dlm_test::run_shell;
using dlm_test::shell_quote;

const std::string& dlm_path() {
  static const std::string path = shell_quote(DLM_EXECUTABLE);
  return path;
}


// `dlm ARGS` with stdin from /dev/null (generate reads a prompt from a non-terminal stdin).
CliResult run_dlm(const std::string& args) {
  return run_shell(dlm_path() + " " + args + " </dev/null");
}

// A short generation. One torch thread: ctest runs two tests at once on two cores.
const std::string kGenerate = "generate -t 1 -n 16 --steps 16";
const std::string kPrompt = "-p 'And God said'";
// Sampled, so that equal outputs of two runs mean something.
const std::string kSampled = kGenerate + " --temperature 0.8 --seed 11";

CliResult run_ok(const std::string& args) {
  CliResult r = run_dlm(args);
  INFO("dlm " << args << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  return r;
}

json parse_record(const std::string& out) {
  INFO("stdout: " << out);
  REQUIRE(std::count(out.begin(), out.end(), '\n') == 1);  // one record, one line
  return json::parse(out);
}

json run_json(const std::string& args) { return parse_record(run_ok(args + " --json").out); }

// `dlm kSampled -p ...` as plain text and as a record, run once per process and
// compared against by several tests.
const CliResult& sampled_text() {
  static const CliResult r = run_ok(kSampled + " " + kPrompt);
  return r;
}
const json& sampled_record() {
  static const json j = run_json(kSampled + " " + kPrompt);
  return j;
}

// A usage error: exit 2, nothing on stdout, one stderr line "dlm: error: ..." with
// every needle in it. `env`: variable assignments put before the command.
void require_usage_failure(const std::string& args, const std::vector<std::string>& needles,
                           const std::string& env = "") {
  const CliResult r = run_shell(env + " " + dlm_path() + " " + args + " </dev/null");
  INFO(env << " dlm " << args.substr(0, 200) << "\nstderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK_THAT(r.err, StartsWith("dlm: error:"));
  CHECK_THAT(r.err, Catch::Matchers::EndsWith("\n"));
  for (const auto& needle : needles) CHECK_THAT(r.err, Contains(needle));
}

bool has_cuda() {
  static const bool cuda = run_ok("--version").out.find("CUDA available") != std::string::npos;
  return cuda;
}

}  // namespace

TEST_CASE("dlm --version prints the version and exits 0", "[cli]") {
  const CliResult r = run_ok("--version");
  CHECK_THAT(r.out, StartsWith("dlm 0."));
  CHECK_THAT(r.out, Contains("libtorch"));
  CHECK_THAT(r.out, Contains("commit " + dlm::build_commit()));  // the build's own commit
}

TEST_CASE("the build records its commit, or 'unknown' without git", "[cli]") {
  TempDir dir;
  const auto record = [&](const std::string& source) {
    return std::string(DLM_CMAKE_COMMAND) + " -DOUTPUT=" + shell_quote(dir.file("commit.cpp")) +
           " -DSOURCE_DIR=" + shell_quote(source) + " -P " +
           shell_quote(std::string(DLM_SOURCE_DIR) + "/third_party/build_commit.cmake");
  };
  // No git on PATH, and a source folder that is not a checkout: the build still succeeds.
  for (const std::string& how : {"env PATH=/nonexistent " + record(DLM_SOURCE_DIR),
                                 record(dir.path().string())}) {
    INFO(how);
    REQUIRE(run_shell(how).exit_code == 0);
    CHECK_THAT(dlm_test::read_file(dir.file("commit.cpp")),
               Contains("std::string build_commit() { return \"unknown\"; }"));
    std::filesystem::remove(dir.file("commit.cpp"));
  }
}

TEST_CASE("dlm generate prints a completion", "[cli]") {
  const CliResult r = run_ok("generate -p \"And God said\" -n 16 --steps 16");
  CHECK(r.out.size() > 1);
  CHECK(r.out.back() == '\n');
  CHECK(r.err.find("error") == std::string::npos);
}

TEST_CASE("dlm generate --json prints every field of the output record", "[cli]") {
  const json& j = sampled_record();
  REQUIRE(j.is_object());
  for (const char* key : {"text", "prompt_token_ids", "token_ids", "finish_reason", "usage", "nfe",
                          "seed", "timings_ms"}) {
    INFO("field " << key);
    CHECK(j.contains(key));
  }
  CHECK(j.at("text").is_string());
  REQUIRE(j.at("prompt_token_ids").size() >= 2);
  CHECK(j.at("prompt_token_ids").front() == 2);  // bos
  CHECK(j.at("token_ids").is_array());
  CHECK(j.at("token_ids").size() <= 16);
  CHECK((j.at("finish_reason") == "stop" || j.at("finish_reason") == "length"));
  const json& usage = j.at("usage");
  CHECK(usage.at("prompt_tokens") == j.at("prompt_token_ids").size());
  CHECK(usage.at("completion_tokens") == j.at("token_ids").size());
  CHECK(j.at("nfe") == 16);
  CHECK(j.at("seed") == 11);
  const json& timings = j.at("timings_ms");
  for (const char* key : {"load", "forward", "total"}) {
    INFO("timings_ms." << key);
    REQUIRE(timings.contains(key));
    CHECK(timings.at(key).get<double>() > 0.0);
  }
  CHECK(timings.at("total").get<double>() >= timings.at("forward").get<double>());
}

TEST_CASE("dlm generate streams the same text that --json reports", "[cli]") {
  CHECK(sampled_text().out == sampled_record().at("text").get<std::string>() + "\n");
}

TEST_CASE("dlm generate twice with the same seed prints the same text", "[cli]") {
  CHECK(run_ok(kSampled + " " + kPrompt).out == sampled_text().out);
}

TEST_CASE("dlm info describes the shipped model", "[cli]") {
  const CliResult r = run_ok("info");
  CHECK_THAT(r.out, Contains("parameters"));
  CHECK_THAT(r.out, Contains("4096 ids"));
  CHECK_THAT(r.out, Contains("mask 4, eos 3, pad 0, bos 2"));
}

TEST_CASE("dlm generate reads the prompt from stdin and from -f", "[cli]") {
  const json& expected = sampled_record();
  const CliResult piped =
      run_shell("echo 'And God said' | " + dlm_path() + " " + kSampled + " --json");
  INFO("stderr of the piped run: " << piped.err);
  REQUIRE(piped.exit_code == 0);
  const json from_stdin = parse_record(piped.out);
  CHECK(from_stdin.at("prompt_token_ids") == expected.at("prompt_token_ids"));
  CHECK(from_stdin.at("token_ids") == expected.at("token_ids"));

  TempDir dir;
  const std::string path = dir.file("prompt.txt");
  dlm_test::write_file(path, "And God said");
  const json from_file = run_json(kSampled + " -f " + shell_quote(path));
  CHECK(from_file.at("prompt_token_ids") == expected.at("prompt_token_ids"));
  CHECK(from_file.at("token_ids") == expected.at("token_ids"));
}

TEST_CASE("dlm generate --visual without a terminal prints plain text", "[cli]") {
  const CliResult visual = run_ok(kSampled + " " + kPrompt + " --visual");
  CHECK(visual.out.size() > 1);
  CHECK(visual.out == sampled_text().out);
  CHECK(visual.out.find('\x1b') == std::string::npos);  // no terminal escapes
}

TEST_CASE("dlm generate --config applies a TOML preset", "[cli][config]") {
  TempDir dir;
  const std::string path = dir.file("preset.toml");
  dlm_test::write_file(path, "max-new-tokens = 8\nsteps = 4\nblock-length = 8\n");
  const json j = run_json("generate -t 1 " + kPrompt + " --config " + shell_quote(path));
  CHECK(j.at("nfe") == 4);
  CHECK(j.at("token_ids").size() <= 8);
}

TEST_CASE("dlm rejects an unknown option", "[cli][usage]") {
  require_usage_failure("generate --bogus " + kPrompt, {"--bogus"});
}

TEST_CASE("dlm rejects -n 0", "[cli][usage]") {
  require_usage_failure("generate -n 0 " + kPrompt, {"--max-new-tokens 0"});
}

TEST_CASE("dlm rejects -n -5", "[cli][usage]") {
  require_usage_failure("generate -n -5 " + kPrompt, {"--max-new-tokens -5"});
}

TEST_CASE("dlm rejects --steps 0", "[cli][usage]") {
  require_usage_failure("generate -n 16 --steps 0 " + kPrompt, {"--steps 0"});
}

TEST_CASE("dlm rejects more steps than tokens", "[cli][usage]") {
  require_usage_failure("generate -n 16 --steps 32 " + kPrompt, {"--steps 32", "16"});
}

TEST_CASE("dlm rejects fewer steps than blocks", "[cli][usage]") {
  require_usage_failure("generate -n 64 --block-length 8 --steps 4 " + kPrompt,
                        {"--steps 4", "8 blocks"});
}

TEST_CASE("dlm rejects --block-length 0", "[cli][usage]") {
  require_usage_failure("generate -n 16 --steps 16 --block-length 0 " + kPrompt,
                        {"--block-length 0"});
}

TEST_CASE("dlm rejects a negative temperature", "[cli][usage]") {
  require_usage_failure(kGenerate + " --temperature -1 " + kPrompt, {"--temperature -1"});
}

TEST_CASE("dlm rejects --threads -1", "[cli][usage]") {
  require_usage_failure("generate --threads -1 " + kPrompt, {"--threads"});
}

TEST_CASE("dlm rejects --device cuda without a GPU", "[cli][usage]") {
  if (has_cuda()) {
    WARN("this dlm has CUDA: --device cuda is valid here");
    return;
  }
  require_usage_failure(kGenerate + " --device cuda " + kPrompt, {"--device cuda", "CUDA"});
}

TEST_CASE("dlm rejects --device banana", "[cli][usage]") {
  require_usage_failure(kGenerate + " --device banana " + kPrompt, {"--device", "banana"});
}

TEST_CASE("dlm rejects a dtype it cannot run, before loading", "[cli][usage]") {
  require_usage_failure(kGenerate + " --dtype int8 " + kPrompt, {"--dtype", "'int8'", "bfloat16"});
  require_usage_failure(kGenerate + " --dtype float16 " + kPrompt, {"--dtype float16", "CUDA only"});
  require_usage_failure("info --dtype double", {"--dtype", "'double'"});
}

TEST_CASE("--cuda-graphs: auto and off run on a CPU with the same tokens; on needs CUDA", "[cli]") {
  require_usage_failure(kGenerate + " --cuda-graphs on " + kPrompt,
                        {"--cuda-graphs on needs --device cuda", "auto"});
  require_usage_failure(kGenerate + " --cuda-graphs banana " + kPrompt, {"--cuda-graphs", "'banana'", "auto, on or off"});
  const std::string args = "generate -q -t 1 --json -n 16 --steps 16 --temperature 0 --cache dual " + kPrompt;
  const json plain = json::parse(run_ok(args).out);
  CHECK(json::parse(run_ok(args + " --cuda-graphs OFF").out)["token_ids"] == plain["token_ids"]);
  CHECK(json::parse(run_ok(args + " --cuda-graphs auto").out)["token_ids"] == plain["token_ids"]);
  // No graphs on a CPU: --stats says nothing about them.
  CHECK_THAT(run_dlm(args + " --stats").err, !Catch::Matchers::Contains("cuda graphs"));
}

TEST_CASE("--dtype bfloat16 runs the float32 model in bfloat16, tokens mostly the same", "[cli]") {
  // Greedy, dual cache, 32 tokens: bfloat16 rounding may split near-ties, so the check is
  // agreement, not identity (README "CPU speed" reports it over more prompts).
  const std::string args = "generate -q -t 1 --json -n 32 --steps 32 --temperature 0 --cache dual " + kPrompt;
  const json f32 = json::parse(run_ok(args).out);
  const json bf16 = json::parse(run_ok(args + " --dtype BF16").out);
  const auto a = f32["token_ids"].get<std::vector<std::int64_t>>();
  const auto b = bf16["token_ids"].get<std::vector<std::int64_t>>();
  REQUIRE(b.size() == a.size());
  std::size_t same = 0;
  for (std::size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  INFO(same << " of " << a.size() << " tokens agree");
  CHECK(same * 4 >= a.size() * 3);
  // The same run twice in bfloat16 gives the same tokens.
  CHECK(json::parse(run_ok(args + " --dtype bfloat16").out)["token_ids"] == bf16["token_ids"]);
  // dlm info reports the dtype the parameters run in, and half the cache bytes per position.
  const auto info32 = run_ok("info").out, info16 = run_ok("info --dtype bfloat16").out;
  CHECK_THAT(info32, Catch::Matchers::Contains("float32"));
  CHECK_THAT(info16, Catch::Matchers::Contains("bfloat16"));
  CHECK_THAT(info32, Catch::Matchers::Contains("12288 bytes of keys/values per position"));
  CHECK_THAT(info16, Catch::Matchers::Contains("6144 bytes of keys/values per position"));
}

TEST_CASE("dlm rejects a missing model file", "[cli][usage]") {
  require_usage_failure(kGenerate + " -m /nonexistent.pt " + kPrompt,
                        {"/nonexistent.pt", "does not exist"});
}

TEST_CASE("dlm rejects a text file as the model", "[cli][usage]") {
  TempDir dir;
  const std::string path = dir.file("model.pt");
  dlm_test::write_file(path, "not a model\n");
  require_usage_failure(kGenerate + " -m " + shell_quote(path) + " " + kPrompt,
                        {path, "not a TorchScript archive"});
}

TEST_CASE("dlm rejects a missing prompt file", "[cli][usage]") {
  TempDir dir;
  const std::string path = dir.file("no-such-prompt.txt");
  require_usage_failure(kGenerate + " -f " + shell_quote(path), {path, "cannot read prompt file"});
}

TEST_CASE("dlm rejects -p together with -f", "[cli][usage]") {
  require_usage_failure(kGenerate + " " + kPrompt + " -f prompt.txt", {"--prompt", "--file"});
}

TEST_CASE("dlm rejects --visual together with --json", "[cli][usage]") {
  require_usage_failure(kGenerate + " " + kPrompt + " --visual --json", {"--visual", "--json"});
}

TEST_CASE("dlm rejects a prompt longer than the model's context", "[cli][usage]") {
  std::string prompt;
  for (int i = 0; i < 150; ++i) prompt += "And God said unto Moses, ";
  require_usage_failure(kGenerate + " -p " + shell_quote(prompt),
                        {"maximum sequence length 512", "tokens"});
}

TEST_CASE("dlm rejects a missing --config file", "[cli][usage][config]") {
  require_usage_failure(kGenerate + " " + kPrompt + " --config /nonexistent/preset.toml",
                        {"/nonexistent/preset.toml"});
}

TEST_CASE("dlm rejects an unknown key in a --config file", "[cli][usage][config]") {
  TempDir dir;
  const std::string path = dir.file("preset.toml");
  dlm_test::write_file(path, "steps = 16\nbogus-key = 3\n");
  require_usage_failure(kGenerate + " " + kPrompt + " --config " + shell_quote(path), {"bogus-key"});
}

TEST_CASE("dlm without a subcommand is a usage error", "[cli][usage]") {
  require_usage_failure("", {"subcommand"});
}

TEST_CASE("dlm rejects bad sampling options with one line each", "[cli][usage]") {
  require_usage_failure("generate --algorithm greedy " + kPrompt, {"--algorithm 'greedy'", "confidence"});
  require_usage_failure("generate --style gpt " + kPrompt, {"--style 'gpt'"});
  require_usage_failure("generate --schedule cosine " + kPrompt, {"--schedule 'cosine'"});
  require_usage_failure("generate --eos never " + kPrompt, {"--eos 'never'"});
  require_usage_failure("generate --threshold 1.5 " + kPrompt, {"--threshold 1.5", "(0, 1]"});
  require_usage_failure("generate --threshold 0 " + kPrompt, {"--threshold 0"});
  require_usage_failure("generate --factor 0 " + kPrompt, {"--factor 0"});
  require_usage_failure("generate --factor -1 " + kPrompt, {"--factor -1"});
  require_usage_failure("generate --top-p 0 " + kPrompt, {"--top-p 0"});
  require_usage_failure("generate --top-p 1.5 " + kPrompt, {"--top-p 1.5"});
  require_usage_failure("generate --top-k -3 " + kPrompt, {"--top-k -3"});
  require_usage_failure("generate --alg-temp -1 " + kPrompt, {"--alg-temp -1"});
  require_usage_failure("generate --cfg-scale -2 " + kPrompt, {"--cfg-scale -2"});
  require_usage_failure("generate --threshold 0.9 --factor 1 " + kPrompt, {"--threshold and --factor"});
  require_usage_failure("generate --schedule timestep --algorithm origin --threshold 0.9 " + kPrompt,
                        {"origin", "--threshold"});
  require_usage_failure("generate --algorithm origin " + kPrompt, {"origin", "--schedule timestep"});
  require_usage_failure("generate --schedule timestep --threshold 0.9 " + kPrompt, {"--schedule block"});
  require_usage_failure("generate --threshold 0.9 --alg-temp 0.5 " + kPrompt, {"--alg-temp"});
  require_usage_failure("generate --schedule timestep --eps 2 " + kPrompt, {"--eps 2"});
  require_usage_failure("generate --stop '' " + kPrompt, {"--stop"});
  require_usage_failure("generate --edit-threshold 1.5 " + kPrompt, {"--edit-threshold 1.5", "[0, 1)"});
  require_usage_failure("generate --remask -1 " + kPrompt, {"--edit-threshold -1"});
  require_usage_failure("generate --edit-threshold 0.9 --max-post-steps -2 " + kPrompt, {"--max-post-steps -2"});
  require_usage_failure("generate --schedule timestep --edit-threshold 0.9 " + kPrompt,
                        {"--edit-threshold 0.9", "--schedule block"});
}

TEST_CASE("dlm generate runs every rule, style and preset from the command line", "[cli]") {
  const std::string configs = std::string(DLM_SOURCE_DIR) + "/configs/";
  for (const std::string& args : std::vector<std::string>{"--algorithm margin", "--algorithm entropy", "--algorithm random --temperature 0.5",
        "--style dream --temperature 0.8 --top-p 0.9 --top-k 40",
        "--schedule timestep --algorithm origin --style dream",
        "--schedule timestep --algorithm ancestral --style dream --temperature 1",
        "--threshold 0.9", "--factor 1", "--alg-temp 0.5", "--cfg-scale 1", "--eos stop",
        "--eb-gamma 2", "--suffix-window 8 --cache dual", "--cache elastic --elastic-gamma 0.95",
        "--remask 0.5 --max-post-steps 2 --threshold 0.7", "--edit-threshold 0 --cache dual",
        "--config " + configs + "eb-sampler.toml", "--config " + configs + "llada21-edit.toml",
        "--eos suppress", "--eos defer", "--stop ,", "--config " + configs + "dream.toml",
        "--config " + configs + "fast-dllm.toml", "--config " + configs + "mdlm.toml",
        "--config " + configs + "llada.toml", "--config " + configs + "kjv-tiny.toml"}) {
    INFO(args);
    const auto r = run_dlm("generate -q -t 1 --json -n 16 --steps 16 " + args + " " + kPrompt);
    REQUIRE(r.exit_code == 0);
    const auto record = nlohmann::json::parse(r.out);
    CHECK(record["nfe"].get<int>() >= 1);
  }
}

TEST_CASE("--stop ends the text before the stop string", "[cli]") {
  const auto plain = run_dlm("generate -q -t 1 --json -n 32 --steps 32 --eos suppress " + kPrompt);
  REQUIRE(plain.exit_code == 0);
  const std::string text = nlohmann::json::parse(plain.out)["text"];
  REQUIRE(text.size() > 8);
  const std::string stop = text.substr(4, 3);
  const auto cut = run_dlm("generate -q -t 1 --json -n 32 --steps 32 --eos suppress --stop '" +
                           stop + "' " + kPrompt);
  REQUIRE(cut.exit_code == 0);
  const auto record = nlohmann::json::parse(cut.out);
  CHECK(record["text"] == text.substr(0, text.find(stop)));
  CHECK(record["finish_reason"] == "stop");
}

TEST_CASE("dlm rejects bad cache and memory options with one line each", "[cli][usage]") {
  const std::string no_cache = shell_quote(std::string(DLM_SOURCE_DIR) + "/tests/data/no-cache-tiny.pt");
  require_usage_failure("generate --cache triple " + kPrompt, {"--cache 'triple'", "dual"});
  require_usage_failure("generate --cache dual --schedule timestep " + kPrompt,
                        {"--cache dual", "--schedule block"});
  require_usage_failure("generate --cache prefix --schedule timestep " + kPrompt,
                        {"--cache prefix", "--schedule block"});
  require_usage_failure("generate -m " + no_cache + " --cache dual " + kPrompt,
                        {"no cache methods", "--cache none"});
  require_usage_failure("generate --cache-refresh -1 " + kPrompt, {"--cache-refresh -1"});
  require_usage_failure("generate --max-memory 12Q " + kPrompt, {"--max-memory '12Q'", "512M"});
  require_usage_failure("generate --max-memory lots " + kPrompt, {"--max-memory 'lots'"});
  require_usage_failure("generate --max-memory 1M " + kPrompt,
                        {"needs about", "MiB", "key/value cache", "--max-memory 1.0 MiB"});
}

TEST_CASE("dlm generate reports the cache and obeys --max-memory", "[cli]") {
  const auto dual = run_dlm("generate -q -t 1 --json --stats -n 32 --steps 32 " + kPrompt);
  REQUIRE(dual.exit_code == 0);
  const auto record = json::parse(dual.out);
  CHECK(record["cache"]["mode"] == "dual");  // auto: the shipped model has the cache methods
  CHECK(record["cache"]["bytes"].get<std::int64_t>() > 0);
  CHECK_THAT(dual.err, Contains("cache dual ("));
  const auto none = run_json("generate -q -t 1 -n 32 --steps 32 --cache none " + kPrompt);
  CHECK(none["cache"]["mode"] == "none");
  CHECK(none["cache"]["bytes"] == 0);
  const auto timestep = run_json("generate -q -t 1 -n 32 --steps 32 --schedule timestep " + kPrompt);
  CHECK(timestep["cache"]["mode"] == "none");  // auto with the timestep schedule
  // A generous limit runs; the limit accepts suffixes.
  CHECK(run_dlm("generate -q -t 1 -n 16 --steps 16 --max-memory 2G " + kPrompt).exit_code == 0);
  CHECK(run_dlm("generate -q -t 1 -n 16 --steps 16 --max-memory 300000k " + kPrompt).exit_code == 0);
}

TEST_CASE("--cache auto on a checkpoint without the cache methods runs uncached with a notice", "[cli]") {
  const std::string no_cache = shell_quote(std::string(DLM_SOURCE_DIR) + "/tests/data/no-cache-tiny.pt");
  const auto r = run_dlm("generate -t 1 --json -n 16 --steps 16 -m " + no_cache + " " + kPrompt);
  REQUIRE(r.exit_code == 0);
  CHECK(json::parse(r.out)["cache"]["mode"] == "none");
  CHECK_THAT(r.err, Contains("no cache methods"));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

TEST_CASE("dlm generate runs both cache modes from the command line", "[cli]") {
  // Every rule with every mode runs in test_cache.cpp through the library; here the flags.
  for (const std::string& args : std::vector<std::string>{"--cache prefix",
           "--cache prefix --threshold 0.5", "--cache dual --style dream --temperature 0.8",
           "--cache dual --cfg-scale 1 --cache-refresh 2", "--config " + std::string(DLM_SOURCE_DIR) +
           "/configs/fast-dllm.toml"}) {
    INFO(args);
    const auto r = run_dlm("generate -q -t 1 --json -n 16 --steps 16 --block-length 8 " + args +
                           " " + kPrompt);
    REQUIRE(r.exit_code == 0);
    const auto record = json::parse(r.out);
    CHECK(record["cache"]["mode"] == (args.find("prefix") != std::string::npos ? "prefix" : "dual"));
    CHECK(record["nfe"].get<int>() >= 2);
  }
}

TEST_CASE("Without --steps, steps follow -n in generate, presets and batch records", "[cli]") {
  // One token per step: -n 8 runs 8 steps (uncached: 8 forward calls), where the fixed
  // default of 128 steps used to refuse -n 8.
  const auto plain = run_json("generate -q -t 1 -n 8 --cache none " + kPrompt);
  CHECK(plain["nfe"] == 8);
  CHECK(plain["usage"]["completion_tokens"].get<int>() <= 8);
  // A preset without steps follows the -n given with it.
  const auto preset = run_json("generate -q -t 1 --config " + dlm_test::shell_quote(std::string(DLM_SOURCE_DIR) + "/configs/llada.toml") + " -n 8 " + kPrompt);
  CHECK(preset["nfe"] == 8);
  // An explicit --steps still decides (two tokens per step).
  CHECK(run_json("generate -q -t 1 -n 8 --steps 4 --cache none " + kPrompt)["nfe"] == 4);
  // dlm batch: a record's steps follow its own length unless it or the run sets them.
  dlm_test::TempDir dir;
  dlm_test::write_file(dir.file("in.jsonl"),
                       "{\"id\": \"short\", \"prompt\": \"And God said\", \"max_new_tokens\": 4}\n"
                       "{\"id\": \"long\", \"prompt\": \"And God said\", \"max_new_tokens\": 12}\n"
                       "{\"id\": \"set\", \"prompt\": \"And God said\", \"max_new_tokens\": 12, \"steps\": 6}\n");
  const auto r = run_dlm("batch -q -t 1 -n 8 --cache none -i " + dir.file("in.jsonl") + " -o " +
                         dir.file("out.jsonl"));
  REQUIRE(r.exit_code == 0);
  std::map<std::string, json> by_id;
  std::istringstream in(dlm_test::read_file(dir.file("out.jsonl")));
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line);
    by_id[j["id"]] = j;
  }
  CHECK(by_id["short"]["nfe"] == 4);
  CHECK(by_id["long"]["nfe"] == 12);
  CHECK(by_id["set"]["nfe"] == 6);
}

TEST_CASE("dlm rejects a directory as -f, -i or --config with one line naming it", "[cli][usage]") {
  TempDir dir;
  const std::string path = dir.path().string();
  require_usage_failure(kGenerate + " -f " + shell_quote(path), {path, "is a directory", "-f"});
  require_usage_failure(kGenerate + " " + kPrompt + " --config " + shell_quote(path),
                        {path, "is a directory", "--config"});
  require_usage_failure("batch -t 1 -n 16 --steps 16 -i " + shell_quote(path) + " -o " +
                            shell_quote(dir.file("out.jsonl")),
                        {path, "is a directory", "-i"});
}

TEST_CASE("a prompt too long for -n names the room left", "[cli][usage]") {
  std::string prompt;
  for (int i = 0; i < 150; ++i) prompt += "And God said unto Moses, ";
  // Longer than the model alone: only a shorter prompt helps.
  require_usage_failure(kGenerate + " -p " + shell_quote(prompt),
                        {"plus -n 16 exceeds the model's maximum sequence length 512",
                         "shorten the prompt to at most 496 tokens"});
  // Fits alone, not with -n 500: a shorter prompt or a smaller -n.
  require_usage_failure("generate -t 1 -n 500 --steps 500 --block-length 500 -p " +
                            shell_quote(prompt.substr(0, 125)),
                        {"plus -n 500 exceeds the model's maximum sequence length 512",
                         "shorten the prompt to at most 12 tokens or use -n ", " or less"});
}

TEST_CASE("a huge -n names the model's maximum length before steps or blocks", "[cli][usage]") {
  for (const std::string& command : {"generate " + kPrompt, std::string("batch -i - -o -")}) {
    INFO(command);
    const CliResult r = run_dlm(command + " -t 1 -n 100000");
    CHECK(r.exit_code == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_THAT(r.err, Contains("-n 100000 exceeds the model's maximum sequence length 512"));
    CHECK_THAT(r.err, Contains("use -n 511 or less"));
    CHECK_THAT(r.err, !Contains("blocks") && !Contains("--steps"));
  }
  // -n 511 fits an empty prompt (bos alone): the next complaint is about the steps.
  require_usage_failure("generate -t 1 -n 511 --steps 4", {"--steps 4", "blocks"});
}

TEST_CASE("$DLM_MODEL or $DLM_JUDGE naming a missing file is an error naming the variable",
          "[cli][usage]") {
  require_usage_failure(kGenerate + " " + kPrompt, {"$DLM_MODEL", "/nonexistent/model.pt",
                                                    "does not exist"},
                        "DLM_MODEL=/nonexistent/model.pt");
  TempDir dir;
  require_usage_failure(kGenerate + " " + kPrompt, {"$DLM_MODEL", "is not a file"},
                        "DLM_MODEL=" + shell_quote(dir.path().string()));
  // -m wins over the variable.
  CHECK(run_shell("DLM_MODEL=/nonexistent/model.pt " + dlm_path() + " " + kGenerate + " " + kPrompt +
                  " -q -m " + shell_quote(dlm_test::shipped_model_path()) + " </dev/null")
            .exit_code == 0);
  require_usage_failure("sweep -t 1 -i prompts.jsonl -o " + shell_quote(dir.file("sweep")),
                        {"$DLM_JUDGE", "/nonexistent/judge.pt", "does not exist"},
                        "DLM_JUDGE=/nonexistent/judge.pt");
}

TEST_CASE("dlm generate takes llama.cpp's flags, a bare prompt and names in any case", "[cli]") {
  const json& expected = sampled_record();  // -n 16 --steps 16 --temperature 0.8 --seed 11
  const json llama = run_json("generate -t 1 --n-predict 16 --diffusion-steps 16 "
                              "--diffusion-block-length 32 --temp 0.8 -s 11 "
                              "--diffusion-algorithm 4 'And God said'");
  CHECK(llama.at("prompt_token_ids") == expected.at("prompt_token_ids"));
  CHECK(llama.at("token_ids") == expected.at("token_ids"));
  CHECK(llama.at("seed") == 11);
  // The bare prompt after a repeatable option is still the prompt.
  const json after_stop = run_json(kSampled + " --stop Amen 'And God said'");
  CHECK(after_stop.at("prompt_token_ids") == expected.at("prompt_token_ids"));
  // --algorithm Entropy is entropy, and so is llama.cpp's 1.
  const std::string entropy = kSampled + " " + kPrompt + " --algorithm ";
  const json lower = run_json(entropy + "entropy");
  CHECK(run_json(entropy + "Entropy").at("token_ids") == lower.at("token_ids"));
  CHECK(run_json(kSampled + " " + kPrompt + " --diffusion-algorithm 1").at("token_ids") ==
        lower.at("token_ids"));
  // --diffusion-eps is --eps; --diffusion-visual is --visual (plain text without a terminal).
  const std::string timestep = kSampled + " " + kPrompt + " --schedule timestep ";
  CHECK(run_json(timestep + "--diffusion-eps 0.01").at("token_ids") ==
        run_json(timestep + "--eps 0.01").at("token_ids"));
  CHECK(run_ok(kSampled + " " + kPrompt + " --diffusion-visual").out == sampled_text().out);
}

TEST_CASE("--seed -1 draws a seed that --json and --stats report and that reruns", "[cli]") {
  const std::string args = kGenerate + " --temperature 0.8 " + kPrompt + " --json --stats";
  const CliResult first = run_ok(args + " --seed -1");
  const CliResult second = run_ok(args + " -s -1");
  const json a = parse_record(first.out), b = parse_record(second.out);
  const std::uint64_t seed = a.at("seed").get<std::uint64_t>();
  CHECK(seed <= (std::uint64_t{1} << 53) - 1);
  CHECK(seed != b.at("seed").get<std::uint64_t>());  // equal once in 2^53 runs
  CHECK_THAT(first.err, Contains("| seed " + std::to_string(seed) + "\n"));
  const json rerun = run_json(kGenerate + " --temperature 0.8 " + kPrompt + " --seed " +
                              std::to_string(seed));
  CHECK(rerun.at("token_ids") == a.at("token_ids"));
  CHECK(rerun.at("seed") == seed);
}

TEST_CASE("dlm refuses seeds above 2^53 - 1 before loading a model", "[cli][usage]") {
  TempDir dir;
  dlm_test::write_file(dir.file("in.jsonl"), "{\"prompt\": \"a\"}\n");
  const std::string missing = " -m /nonexistent.pt";
  require_usage_failure("generate --seed 9007199254740992" + missing + " " + kPrompt,
                        {"--seed 9007199254740992 is above 2^53 - 1 = 9007199254740991"});
  require_usage_failure("batch -i " + shell_quote(dir.file("in.jsonl")) + " -o " +
                            shell_quote(dir.file("out.jsonl")) + " -s 18446744073709551615" + missing,
                        {"--seed 18446744073709551615 is above 2^53 - 1"});
  require_usage_failure("generate --seed -2" + missing + " " + kPrompt,
                        {"--seed '-2'", "-1 for a random seed"});
}

TEST_CASE("an unknown option or subcommand names the closest one and the subcommand's --help",
          "[cli][usage]") {
  require_usage_failure("generate --temprature 0.8 " + kPrompt,
                        {"unknown option --temprature (did you mean --temperature?)",
                         "see dlm generate --help"});
  require_usage_failure("generate --max_new_tokens 8 " + kPrompt,
                        {"(did you mean --max-new-tokens?)"});
  require_usage_failure("generate -steps 8 " + kPrompt, {"unknown option -steps (did you mean --steps?)"});
  require_usage_failure("batch -i in.jsonl -o out.jsonl --bach-size 4",
                        {"did you mean --batch-size?", "see dlm batch --help"});
  require_usage_failure("genrate " + kPrompt,
                        {"unknown subcommand 'genrate' (did you mean 'generate'?)", "dlm --help"});
  require_usage_failure("frobnicate", {"unknown subcommand 'frobnicate'", "generate, info"});
  // CLI11's own errors point at the subcommand's --help too.
  require_usage_failure("batch -o out.jsonl", {"--input", "see dlm batch --help"});
  // The bare prompt is one argument.
  require_usage_failure("generate " + kPrompt + " 'a second prompt'",
                        {"the prompt is given twice, by --prompt and as 'a second prompt'",
                         "see dlm generate --help"});
  require_usage_failure("generate -n 8 In the beginning",
                        {"dlm generate takes one prompt, not 3 words",
                         "dlm generate \"In the beginning\""});
}

TEST_CASE("llama.cpp flags that mean nothing here are errors, not values", "[cli][usage]") {
  // CLI11 alone reads -ngl as -n gl.
  for (const std::string& command :
       std::vector<std::string>{"generate " + kPrompt, "batch -i in.jsonl -o out.jsonl"}) {
    INFO(command);
    const CliResult r = run_dlm(command + " -ngl 99");
    CHECK_THAT(r.err, !Contains("max-new-tokens"));
    require_usage_failure(command + " -ngl 99",
                          {"unknown option -ngl (llama.cpp's GPU-layers flag has no meaning here; "
                           "dlm runs on --device)", "--help"});
  }
  require_usage_failure("generate --n-gpu-layers 99 " + kPrompt, {"--n-gpu-layers", "--device"});
  require_usage_failure("generate -c 2048 " + kPrompt, {"unknown option -c", "context"});
  require_usage_failure("generate -fa " + kPrompt, {"unknown option -fa", "flash-attention"});
  // A cluster CLI11 would split into a number option and a word is unknown as a whole...
  require_usage_failure("generate -temp 0.8 " + kPrompt,
                        {"unknown option -temp (did you mean --temp?)"});
  // ...while valid clusters still work: flags together, a short option with its value.
  const CliResult r = run_dlm("generate -qt1 -n16 --steps 16 --json " + kPrompt);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(parse_record(r.out).at("token_ids").size() <= 16);
}

TEST_CASE("An empty completion gets one notice naming the way out", "[cli]") {
  // The shipped model (trained on passages) ends the text at once after a verse that ends
  // a chapter, here the Bible's last.
  const std::string last_verse = "-p 'The grace of our Lord Jesus Christ be with you all. Amen.'";
  const auto empty = run_dlm("generate -t 1 --json -n 16 " + last_verse);
  REQUIRE(empty.exit_code == 0);
  REQUIRE(parse_record(empty.out)["token_ids"].empty());
  CHECK_THAT(empty.err, Contains("the completion is empty"));
  CHECK_THAT(empty.err, Contains("--eos suppress"));
  CHECK_THAT(empty.err, Contains("--min-new-tokens"));
  CHECK(empty.err.find("the completion is empty") == empty.err.rfind("the completion is empty"));
  // --min-new-tokens N: no end of text among the first N positions (16 of 16 here: none).
  const auto at_least = run_dlm("generate -t 1 --json -n 16 --min-new-tokens 6 -p 'Jesus wept.'");
  REQUIRE(at_least.exit_code == 0);
  CHECK(parse_record(at_least.out)["token_ids"].size() >= 6);
  CHECK_THAT(at_least.err, !Contains("the completion is empty"));
  require_usage_failure("generate --min-new-tokens -1 " + kPrompt, {"--min-new-tokens -1 must be >= 0"});
  require_usage_failure("generate --min-p 1.5 " + kPrompt, {"--min-p 1.5 is outside [0, 1]"});
  require_usage_failure("generate --repeat-penalty 0 " + kPrompt, {"--repeat-penalty 0 must be a finite number > 0"});
  // The way out works, and a non-empty completion gets no notice.
  const auto suppressed = run_dlm("generate -t 1 --json -n 16 --eos suppress " + last_verse);
  REQUIRE(suppressed.exit_code == 0);
  CHECK(!parse_record(suppressed.out)["token_ids"].empty());
  CHECK_THAT(suppressed.err, !Contains("the completion is empty"));
}

TEST_CASE("--stats reports generated tokens/s and canvas positions/s apart", "[cli]") {
  const auto r = run_ok("generate -t 1 --json --stats -n 16 --eos suppress " + kPrompt);
  const json record = parse_record(r.out);
  const auto generated = record.at("token_ids").size();
  CHECK_THAT(r.err, Contains(std::to_string(generated) + " tokens generated = "));
  CHECK_THAT(r.err, Contains("tokens/s, 16 canvas positions = "));
  CHECK_THAT(r.err, Contains("positions/s"));
}

TEST_CASE("presets are read as TOML: syntax errors name the file, line and column",
          "[cli][usage][config]") {
  TempDir dir;
  const std::string path = dir.file("preset.toml");
  const auto preset_failure = [&](const std::string& toml, const std::vector<std::string>& needles,
                                  const std::string& extra = "") {
    dlm_test::write_file(path, toml);
    std::vector<std::string> all{path};
    all.insert(all.end(), needles.begin(), needles.end());
    require_usage_failure(kGenerate + " " + kPrompt + " --config " + shell_quote(path) + extra, all);
  };
  // Not TOML: each used to be read (steps 1, algorithm entropy, a range error).
  preset_failure("max-new-tokens = 16\nsteps = [8, 16\n", {path + ":2:", "not valid TOML"});
  preset_failure("algorithm = entropy\n", {path + ":1:13: not valid TOML", "algorithm = \"entropy\""});
  preset_failure("steps =\n", {path + ":1:", "not valid TOML"});
  // Valid TOML, bad for dlm: the same checks as the command line, at the value's place.
  preset_failure("steps = [8, 16]\n", {path + ":1:9: 'steps' takes one value, not a list"});
  preset_failure("\ntemperature = -1\n", {path + ":2:15:", "--temperature -1 must be a finite number >= 0"});
  preset_failure("top-p = 1.5\n", {path + ":1:9:", "--top-p 1.5 is outside (0, 1]"});
  preset_failure("algorithm = \"greedy\"\n", {"--algorithm 'greedy' is not known"});
  preset_failure("seed = 9007199254740992\n", {"is above 2^53 - 1"});
  dlm_test::write_file(path, "threads = 5000\n");  // CLI11's range check (no -t here)
  require_usage_failure("generate -n 16 --steps 16 " + kPrompt + " --config " + shell_quote(path),
                        {path + ":1:11: bad value for 'threads'"});
  // A bad value is an error even where the command line overrides it.
  preset_failure("steps = \"many\"\n", {path + ":1:9:", "--steps 'many' is not a whole number"});
  preset_failure("visual = 1\n", {"'visual' is a switch; give true or false"});
  preset_failure("max_new_tokens = 8\n", {path + ":1:1: unknown key 'max_new_tokens' (did you mean "
                                          "'max-new-tokens'?)", "dlm generate --help"});
  preset_failure("[batch]\nsteps = 8\n", {"unknown key 'batch'"});
  preset_failure("config = \"other.toml\"\n", {"unknown key 'config'"});
  // Switches that exclude each other do so in a preset too, and against the command line.
  preset_failure("visual = true\njson = true\n", {"--json and --visual exclude each other"});
  preset_failure("visual = true\n", {"exclude each other"}, " --json");
  dlm_test::write_file(path, "prompt = \"And God said\"\n");
  require_usage_failure(kGenerate + " -f - --config " + shell_quote(path),
                        {path, "--prompt and --file exclude each other"});
}

TEST_CASE("presets take sections, lists and switches as the command line does", "[cli][config]") {
  TempDir dir;
  const std::string path = dir.file("preset.toml");
  // A [generate] section, a list of stop strings, a switch left off, integers as floats.
  dlm_test::write_file(path, "temperature = 0\n[generate]\nmax-new-tokens = 16\nsteps = 16\n"
                             "stop = [\"LORD\", \"Amen\"]\nvisual = false\n");
  const json j = run_json("generate -t 1 " + kPrompt + " --config " + shell_quote(path));
  const json expected = run_json("generate -t 1 -n 16 --steps 16 --stop LORD --stop Amen " + kPrompt);
  CHECK(j.at("token_ids") == expected.at("token_ids"));
  CHECK(j.at("text") == expected.at("text"));
  // dlm sweep reads its axes as TOML lists (or comma-separated strings): the grid check
  // sees both lists before any model loads.
  dlm_test::write_file(path, "steps = [4, 8]\nblock-length = \"0\"\n");
  require_usage_failure("sweep -q -t 1 -n 8 -i prompts.jsonl -o " + shell_quote(dir.file("out")) +
                            " --config " + shell_quote(path),
                        {"--block-length 0"});
}

TEST_CASE("generation stops once the end of the text is final, unless a preset reproduces a "
          "reference", "[cli]") {
  // The same text either way: the steps after the end cannot change it.
  // The Bible's last verse but its "Amen.": greedy, the text ends after 2 tokens.
  const std::string prompt = "'The grace of our Lord Jesus Christ be with you all.'";
  const std::string args = "generate -q -t 1 -n 64 -p " + prompt;
  const json stopped = run_json(args);
  const json every_step = run_json(args + " --eos none");
  CHECK(stopped.at("token_ids") == every_step.at("token_ids"));
  CHECK(stopped.at("text") == every_step.at("text"));
  REQUIRE(stopped.at("token_ids").size() < 48);  // the text ends in the first blocks...
  CHECK(stopped.at("nfe").get<int>() < 64);      // ...and so does the generation
  CHECK(every_step.at("nfe") == 64);
  // configs/llada.toml reproduces LLaDA's generate.py, which runs every step.
  CHECK(run_json("generate -q -t 1 -n 64 -p " + prompt + " --config " +
                 shell_quote(std::string(DLM_SOURCE_DIR) + "/configs/llada.toml"))
            .at("nfe") == 64);
  // dlm options and dlm batch share the default.
  bool listed = false;
  for (const json& option : json::parse(run_ok("options --json").out)) {
    if (option.at("name") == "eos") listed = option.at("default") == "stop";
  }
  CHECK(listed);
  TempDir dir;
  dlm_test::write_file(dir.file("in.jsonl"),
                       "{\"prompt\": \"The grace of our Lord Jesus Christ be with you all.\"}\n");
  REQUIRE(run_dlm("batch -q -t 1 -n 64 -i " + dir.file("in.jsonl") + " -o " +
                  dir.file("out.jsonl")).exit_code == 0);
  const json record = json::parse(dlm_test::read_file(dir.file("out.jsonl")));
  CHECK(record.at("token_ids") == stopped.at("token_ids"));
  CHECK(record.at("nfe") == stopped.at("nfe"));
}

TEST_CASE("on a terminal the completion follows its prompt; --no-display-prompt, pipes and "
          "--json show the completion alone", "[cli]") {
  REQUIRE(std::system("script -qec true /dev/null >/dev/null 2>&1 </dev/null") == 0);
  // script(1) gives dlm a terminal as stdout (which writes "\r\n" for "\n").
  const auto at_terminal = [](const std::string& args) {
    CliResult r = run_shell("script -qec " + shell_quote(dlm_path() + " " + args + " </dev/null") +
                            " /dev/null </dev/null");
    r.out.erase(std::remove(r.out.begin(), r.out.end(), '\r'), r.out.end());
    return r;
  };
  const std::string completion = sampled_text().out;  // piped: the completion and "\n"
  REQUIRE(completion.find("And God said") == std::string::npos);
  const CliResult shown = at_terminal(kSampled + " " + kPrompt);
  CHECK(shown.exit_code == 0);
  CHECK(shown.out == "\x1b[1mAnd God said\x1b[0m" + completion);
  const CliResult hidden = at_terminal(kSampled + " " + kPrompt + " --no-display-prompt");
  CHECK(hidden.out == completion);
  const CliResult record = at_terminal(kSampled + " " + kPrompt + " --json");
  CHECK(parse_record(record.out).at("token_ids") == sampled_record().at("token_ids"));
}

TEST_CASE("Without --steps, dlm sweep's steps axis and dlm chat's steps follow -n", "[cli]") {
  TempDir dir;
  dlm_test::write_file(dir.file("prompts.jsonl"), "{\"prompt\": \"And God said\"}\n");
  const CliResult sweep = run_dlm("sweep -q -t 1 -n 8 --no-plot -i " + dir.file("prompts.jsonl") +
                                  " -o " + shell_quote(dir.file("out")));
  INFO(sweep.err);
  REQUIRE(sweep.exit_code == 0);
  const json report = json::parse(dlm_test::read_file(dir.file("out/sweep.json")));
  CHECK(report.at("grid").at("steps") == json::array({1, 2, 4, 8}));  // -n/8, -n/4, -n/2, -n
  for (const json& cell : report.at("cells")) CHECK(cell.at("status") == "done");
  // dlm chat -n 8: 8 steps, where the fixed default used to refuse it.
  const CliResult chat = run_shell("printf 'And God said\\n' | " + dlm_path() + " chat -q -t 1 -n 8");
  INFO(chat.err);
  CHECK(chat.exit_code == 0);
  CHECK(chat.err.empty());
}

TEST_CASE("the README's headline sample is what its command prints today", "[cli][readme]") {
  // README "Quick start": `build/dlm generate --config configs/kjv-tiny.toml -p "And the LORD
  // said unto Moses,"`, quoted as "> PROMPT **COMPLETION**".
  const std::string readme = dlm_test::read_file(std::string(DLM_SOURCE_DIR) + "/README.md");
  const std::string prompt = "And the LORD said unto Moses,";
  const std::string quote = "\n> " + prompt + " **";
  const auto at = readme.find(quote);
  REQUIRE(at != std::string::npos);
  const auto start = at + quote.size();
  const auto end = readme.find("**", start);
  REQUIRE(end != std::string::npos);
  const std::string sample = readme.substr(start, end - start);
  const CliResult r = run_ok("generate -q --config " +
                             shell_quote(std::string(DLM_SOURCE_DIR) + "/configs/kjv-tiny.toml") +
                             " -p " + shell_quote(prompt));
  std::string printed = r.out;
  while (!printed.empty() && (printed.back() == '\n' || printed.back() == ' ')) printed.pop_back();
  while (!printed.empty() && printed.front() == ' ') printed.erase(printed.begin());
  CHECK(printed == sample);
}
